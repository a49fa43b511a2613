"""A tiny search setup: a few seconds per trial on a CPU (a 32 px one-stack network, 6 demo clips, ASHA over
three keys). `python -m bench.driver_cost` searches with it; the tests that train or search share it."""

from __future__ import annotations

from search.config import config_from_dict

TINY = {
    "name": "tiny",
    "data": {"demo": True, "demo_clips": 6, "size": 64, "frames_per_clip": 4},
    "model": {"num_stacks": 1, "num_features": 16, "depth": 2, "input_size": 32},
    "train": {
        "epochs": 2,
        "steps_per_epoch": 3,
        "batch_size": 8,
        "lr": 0.002,
        "lr_decay_steps": 10,
        "sigma": 1.0,
        "adv_weight": 0.1,
        "max_eval_samples": 16,
        "eval_batch_size": 16,
        "channels_last": False,
    },
    "search": {
        "num_samples": 4,
        "max_concurrent": 2,
        "space": {
            "train.adv_weight": {"type": "uniform", "low": 0.0, "high": 1.0},
            "augment.occlusion_prob": {"type": "uniform", "low": 0.0, "high": 0.8},
            "train.lr_decay_rate": {"type": "uniform", "low": 0.3, "high": 1.0},
        },
    },
    "scheduler": {"type": "asha", "grace_period": 1, "reduction_factor": 2},
    "failure": {"max_failures": 1},
    "tracking": {"wandb": "offline", "project": "posetune-tests"},
}


def tiny_config(tmp, **sections):
    """TINY with `sections` merged in, storage under `tmp`, shards from the shared fixture."""
    raw = {key: (dict(value) if isinstance(value, dict) else value) for key, value in TINY.items()}
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    raw["storage"] = {"path": str(tmp / "runs"), **raw.get("storage", {})}
    return config_from_dict(raw)
