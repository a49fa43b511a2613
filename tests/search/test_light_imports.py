"""Building the CLI's parser and loading a config import neither torch nor Ray (nor W&B, nor Optuna):
the settings classes live in light modules (models.config, data_pipeline.enhance_settings), so a config
is validated, and `posetune --help` answers, before anything heavy loads (issue 23 item 2)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "ray", "wandb", "optuna")

PROBE = f"""
import json, sys
from search.cli import build_parser
from search.config import load_config
build_parser()
load_config("demo")
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY!r}))))
"""


def test_parser_and_config_load_without_torch_ray_wandb_or_optuna():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
