"""Every metric key posetune reports, written once: `fit`, the search, inspect and the study import these.

A reported key is `<split prefix><metric>`, e.g. `target_val_pdj20`. The protocol behind each name (which
joints count, the normaliser, and the published number it is comparable with) is in `models.metrics` and
in the README's protocol table.
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


# What a search may select trials on: a scalar of a validation split (never a test split).
VALIDATION_METRICS = tuple(prefix + name for prefix in VAL_PREFIXES for name in split_scalars())
