"""Every metric key posetune reports, written once: `fit`, the search, inspect and the study import these.

A reported key is `<split prefix><metric>`, e.g. `target_val_pdj20`. The protocol behind each name (which
joints count, the normaliser, and the published number it is comparable with) is in `models.metrics` and
in docs/metrics.md.
"""

from __future__ import annotations

# Split prefixes: validation splits every epoch, test splits once at the end of a study trial.
TARGET_VAL = "target_val_"
SOURCE_VAL = "source_val_"
TEST_TARGET = "test_target_"
TEST_SOURCE = "test_source_"
VAL_PREFIXES = (TARGET_VAL, SOURCE_VAL)

# PDJ@f over the labelled shared joints (all LSP-14 joints but head-top), torso-normalised.
PDJ_FRACTIONS = {"pdj05": 0.05, "pdj20": 0.2, "pdj40": 0.4}
PDJ05, PDJ20, PDJ40 = PDJ_FRACTIONS
ELBOWS = "_elbows"  # suffix: the same metric over the two elbows only (the original study's view)
VISIBLE = "_visible"  # suffix: the same metric over visible (labelled, not occluded) joints only
PER_JOINT = "_per_joint"  # suffix: the (J,) array behind a mean, LSP-14 order, nan where never counted
RMSE = "rmse"  # root mean squared error, input pixels, labelled shared joints
PCK05_TLLIB = "pck05_tllib"  # PCK@0.05 exactly as tllib's published SURREAL->LSP numbers
PCKH50 = "pckh50"  # MPII's PCKh@0.5 (head-box normalised), where head sizes exist
LOSS = "loss"  # mean pose loss on the split

# Model selection: PDJ@0.2 over the shared joints on target validation, never on a test split.
SELECTION = TARGET_VAL + PDJ20


def elbows(name: str) -> str:
    return name + ELBOWS


def visible_only(name: str) -> str:
    return name + VISIBLE


def per_joint(name: str) -> str:
    return name + PER_JOINT


def split_scalars() -> tuple[str, ...]:
    """Every scalar a split can report (`summarize` and the split's loss), without the split prefix."""
    pdj = tuple(PDJ_FRACTIONS)
    return (*pdj, *map(elbows, pdj), *map(visible_only, pdj), RMSE, PCK05_TLLIB, PCKH50, LOSS)


# Label-free scores (models.label_free): none reads a target label, so they select without target labels.
FLIP_AGREE = "flip_agree"  # target-val: prediction vs mirrored prediction on the mirrored image (left/right swapped)
JITTER_AGREE = "jitter_agree"  # target-val: prediction vs the one on a rotated/scaled/shifted copy, mapped back
PEAK_CONF = "peak_conf"  # target-val: mean peak probability of each joint's spatial distribution
ENTROPY = "entropy"  # target-val: mean normalised entropy of each joint's spatial distribution
LABEL_FREE_SPLIT = (FLIP_AGREE, JITTER_AGREE, PEAK_CONF, ENTROPY)  # under the TARGET_VAL prefix
DEV = "dev_risk"  # Deep Embedded Validation: density-ratio-weighted source-val loss (You et al. 2019)
DOMAIN_PROBE_ACC = "domain_probe_acc"  # a logistic-regression probe's held-out source/target accuracy
DOMAIN_ACC = "domain_acc"  # the trial's own domain classifier's accuracy (only trials with one: not selectable)

LABELLED_TARGET_METRICS = tuple(TARGET_VAL + name for name in split_scalars())
LABEL_FREE_METRICS = (
    *(SOURCE_VAL + name for name in split_scalars()),
    *(TARGET_VAL + name for name in LABEL_FREE_SPLIT),
    DEV,
    DOMAIN_PROBE_ACC,
)

# What a search may select trials on: a scalar of a validation split (never a test split), or a label-free score.
VALIDATION_METRICS = (*LABELLED_TARGET_METRICS, *LABEL_FREE_METRICS)

# Lower is better for these (errors, losses, uncertainty, domain separability); higher for every other one.
_LOWER_IS_BETTER = (RMSE, LOSS, ENTROPY, DEV, DOMAIN_PROBE_ACC, DOMAIN_ACC)
MODES = {
    metric: ("min" if any(metric.endswith(low) for low in _LOWER_IS_BETTER) else "max")
    for metric in (*VALIDATION_METRICS, DOMAIN_ACC)
}


def mode(metric: str) -> str:
    """Whether `metric` (a VALIDATION_METRICS name) is better high ("max") or low ("min")."""
    return MODES[metric]


def needs_target_labels(metric: str) -> bool:
    """Whether a validation metric reads target labels (then a target without labels cannot select by it)."""
    return metric not in LABEL_FREE_METRICS
