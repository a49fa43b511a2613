"""The CLI fuzzed (Hypothesis): any config key set to any value, and any output or storage path, either runs
or is refused with exit code 2 and one `posetune: error:` line; never a traceback, never a changed input.

Every leaf key of the shipped demo config is driven through `search launch --check` (which validates the
config and all it names, then starts nothing), with values of the wrong type, out of range, NaN and inf,
empty, huge and not YAML at all. Paths go to `search launch --check --storage`, `search export --out` (of a
real finished search) and `predict --out`: relative, an existing file, an existing folder, under a file, an
input's folder or file, with spaces and `#`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search.cli import main
from search.config import CONFIG_DIR, load_config

pytestmark = pytest.mark.slow


def _leaves(node: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        keys += _leaves(value, dotted + ".") if isinstance(value, dict) and value else [dotted]
    return keys


KEYS = sorted(_leaves(load_config("demo").to_dict()))

ODD_TEXT = [
    "", "''", "~", "null", ".nan", "-.nan", ".inf", "-.inf", "1e309", "-1e309", "-1", "0", "1e-320",
    "1e300", "-0.0", "true", "false", "[]", "{}", "[1, 2]", "[.nan]", "{a: 1}", "{train: 1}", "x" * 5000,
    "!!python/object/apply:os.system [echo pwned]", "&a 1", "*a", "{", "]", "'open", "0x10", "1_000",
    "2:3", "- a", "a: b", "null\n", "\t", "#", "runs #1", "s3://key:secret@bucket/p", "../../etc/passwd",
    "\x00", "é", "[0, 1e400]", "[3, 2]", "[2, 4, 6]", "{type: uniform, low: 1, high: 0}",
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(ODD_TEXT),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=40),
)
FUZZ = settings(
    deadline=None,
    derandomize=True,  # the same examples every run: a failure here is reproducible, never a flake
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _run(argv: list[str]) -> tuple[int, str, str]:
    """`posetune ARGV` in this process: (exit code, stdout, stderr); any other exception fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's own refusals
            code = exit_.code if isinstance(exit_.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def _assert_ran_or_refused(argv: list[str]) -> tuple[int, str]:
    code, out, err = _run(argv)
    assert "Traceback" not in out + err, (argv, err)
    assert code in (0, 2), (argv, code, err)
    if code == 2 and not err.startswith("usage:"):
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("posetune: error: "), (argv, err)
    return code, out


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A working directory with a user's own files in it: a config, a file, a folder with a file."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / "config.yaml").write_text((CONFIG_DIR / "demo.yaml").read_text())
    (root / "notes.txt").write_text("a user's own file\n")
    (root / "folder").mkdir()
    (root / "folder" / "kept.txt").write_text("kept\n")
    (root / "images").mkdir()
    assert cv2.imwrite(str(root / "images" / "person.png"), np.full((40, 30, 3), 90, np.uint8))
    return root


@contextlib.contextmanager
def _inside(folder: Path):
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


@settings(FUZZ, max_examples=400)
@given(key=st.sampled_from(KEYS), text=VALUES)
def test_any_key_set_to_anything_is_valid_or_one_error_line(scratch, key, text):
    before = _hashes(scratch)
    with _inside(scratch):
        argv = ["search", "launch", "--check", "--config", "config.yaml", "--set", f"{key}={text}"]
        _assert_ran_or_refused(argv)
    assert _hashes(scratch) == before  # --check writes nothing, and no input changed


PATHS = st.sampled_from([
    "out", "out/sub/deeper", "notes.txt", "notes.txt/sub", "folder", "folder/kept.txt", "images",
    "images/person.png", "config.yaml", "with space #1", "a#b/c d", "./rel/../x", "", "~/posetune-fuzz",
])  # fmt: skip


@FUZZ
@given(path=PATHS)
def test_any_storage_path_is_taken_as_written_or_refused(scratch, path):
    before = _hashes(scratch)
    with _inside(scratch):
        code, out = _assert_ran_or_refused(
            ["search", "launch", "--check", "--config", "config.yaml", "--storage", path, "--name", "x"]
        )
        if code == 0:  # the path as given (never re-read as YAML: `#` is no comment, spaces are kept)
            assert f"would write {os.path.join(os.path.abspath(os.path.expanduser(path)), 'x')}" in out, out
    assert _hashes(scratch) == before


@FUZZ
@given(path=PATHS)
def test_export_and_predict_to_any_path_keep_every_input(scratch, tiny_search, tmp_path_factory, path):
    experiment = Path(tiny_search[1].experiment_uri)
    model = scratch / "model" / "best.pt"
    if not model.exists():
        code, _, err = _run(["search", "export", str(experiment), "--out", str(model)])
        assert code == 0, err
    inputs = {"scratch": _hashes(scratch), "experiment": _hashes(experiment)}
    with _inside(scratch):
        for argv in (
            ["search", "export", str(experiment), "--out", path],
            ["predict", str(model), "images/person.png", "--out", path],
        ):
            before = _hashes(scratch)
            code, _ = _assert_ran_or_refused(argv)
            after = _hashes(scratch)
            changed = {name for name in before if after.get(name) != before[name]}
            # Only what posetune wrote here itself may be replaced (a model or overlays from an earlier run).
            assert changed <= {n for n in before if n not in inputs["scratch"]}, (argv, changed)
            if code == 2:
                assert after.keys() == before.keys(), (argv, set(after) - set(before))  # no leftovers
    assert {k: v for k, v in _hashes(scratch).items() if k in inputs["scratch"]} == inputs["scratch"]
    assert _hashes(experiment) == inputs["experiment"]
