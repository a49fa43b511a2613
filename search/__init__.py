"""Ray Tune, Optuna and W&B: the experiment config, the search space, the trainable that wraps
`models.fit`, the Tuner, and the `posetune` command line."""

from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the checkout holding data_pipeline, models, search
