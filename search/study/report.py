"""The study's results and their presentation: per-seed runs → tables (mean ± std, difference to classic with
a 95 % CI and a verdict, where the noise comes from), CSV/JSON files and plots. Reads only plain numbers.

A study run is one dict per arm × seed of test metrics (`<split prefix><metric>`, names in
models.metric_names); everything here is computed from those, so tables can be rebuilt from `runs.csv`.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from data_pipeline.joints import LSP14
from models import metric_names as names
from search.study.stats import CONFIDENCE, Interval, mean_std, paired_difference, t_interval, verdict

SELECTION_METRIC = names.SELECTION  # model selection: target validation only
# The second protocol: each seed's epoch chosen by a label-free score (models.label_free) instead, for the
# side-by-side table of what choosing without target labels costs: target-val heatmap entropy, the validator
# with the least regret on the demo table (bench/results/selection.md: -0.00 [-0.19, 0.18] points per epoch).
LABEL_FREE_SELECTION = names.TARGET_VAL + names.ENTROPY
LABEL_FREE_PICK = "label_free_pick_"  # prefix: the label-free pick's epoch and test metrics in a run
# Prefix: every epoch's own checkpoint scored on target test, in that epoch's report. Nothing selects on it:
# it is what scores the selection metrics over all the study's checkpoints (checkpoints.csv, bench.selection).
EPOCH_TEST = "epoch_"
BASELINE = "classic"  # every other arm is compared with it, seed by seed
SPLITS = {"target": names.TEST_TARGET, "source": names.TEST_SOURCE}
PRIMARY = names.PDJ20  # the metric the verdicts are about: PDJ@0.2 over the shared joints
EVAL_SE = "_eval_se"  # suffix: bootstrap standard error of a test metric over the split's images
# (column header, metric name) in the study's Table 1 order: elbows first, then the shared joints
# ("all" = every joint both domains label), the visible-only view, RMSE and tllib's PCK (docs/metrics.md).
COLUMNS = (
    ("PDJ@.05 elbows", names.elbows(names.PDJ05)),
    ("PDJ@.2 elbows", names.elbows(names.PDJ20)),
    ("PDJ@.4 elbows", names.elbows(names.PDJ40)),
    ("PDJ@.05 all", names.PDJ05),
    ("PDJ@.2 all", names.PDJ20),
    ("PDJ@.4 all", names.PDJ40),
    ("PDJ@.2 all, visible only", names.visible_only(names.PDJ20)),
    ("RMSE (px)", names.RMSE),
    ("PCK@0.05 (tllib)", names.PCK05_TLLIB),
)
OPTIONAL_COLUMNS = (("PCKh@0.5", names.PCKH50),)  # shown where the split has head sizes (MPII)
PER_JOINT_KEY = names.PDJ20 + "_joint_"  # test_target_pdj20_joint_<name>: per-joint PDJ@0.2 as scalars
# The effects table: (header, split, metric, higher is better), each arm minus classic, paired by seed.
EFFECTS = (
    ("target PDJ@.2 all", "target", PRIMARY, True),
    ("target PDJ@.2 elbows", "target", names.elbows(PRIMARY), True),
    ("source PDJ@.2 all", "source", PRIMARY, True),
)


@dataclass
class StudyResult:
    """Per (arm, seed) test metrics, and where the study's files went."""

    experiment_uri: str
    out: str
    arms: dict[str, dict]
    seeds: list[int]
    runs: list[dict[str, Any]]  # {"arm", "seed", "best_epoch", metric: value...}
    # Every epoch of every run: {"arm", "seed", "epoch", validation metrics..., test_target_*: that epoch's}
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)  # how it ran (warm start, load), into study.json

    def by_seed(self, arm: str, key: str) -> dict[int, float]:
        return {int(r["seed"]): float(r[key]) for r in self.runs if r["arm"] == arm and key in r}

    def values(self, arm: str, key: str) -> np.ndarray:
        return np.array(list(self.by_seed(arm, key).values()), dtype=np.float64)


# --------------------------------------------------------------------------------------------- numbers


def columns(study: StudyResult, split: str) -> tuple[tuple[str, str], ...]:
    """The table's columns for one split: COLUMNS, plus each optional one some run of that split has."""
    prefix = SPLITS[split]
    present = [c for c in OPTIONAL_COLUMNS if any(prefix + c[1] in r for r in study.runs)]
    return (*COLUMNS, *present)


def summary(study: StudyResult, split: str) -> list[dict[str, Any]]:
    """One row per arm: mean and sample std (ddof 1) over seeds of each table column."""
    prefix = SPLITS[split]
    rows = []
    for arm in study.arms:
        row: dict[str, Any] = {
            "arm": arm,
            "split": f"{split} test",
            "n_seeds": len(study.by_seed(arm, "seed")),
        }
        for _, suffix in columns(study, split):
            mean, std = mean_std(study.values(arm, prefix + suffix))
            row[f"{suffix}_mean"], row[f"{suffix}_std"] = mean, std
        rows.append(row)
    return rows


def effects(study: StudyResult) -> list[dict[str, Any]]:
    """Each arm but classic: per EFFECTS metric, arm − classic paired by seed, its CI and the verdict."""
    rows = []
    for arm in study.arms:
        if arm == BASELINE:
            continue
        row: dict[str, Any] = {"arm": arm}
        for _, split, metric, higher in EFFECTS:
            key = SPLITS[split] + metric
            diff = paired_difference(study.by_seed(arm, key), study.by_seed(BASELINE, key))
            row[key] = _interval_fields(diff) | {"verdict": verdict(diff, higher)}
        rows.append(row)
    return rows


def noise(study: StudyResult) -> list[dict[str, Any]]:
    """Per arm: seed-to-seed std of target-test PDJ@0.2 beside the eval-sampling part of it (the mean
    bootstrap SE of one model's score over the test images), and the resolution of the difference to
    classic (half-width of its 95 % CI)."""
    key = SPLITS["target"] + PRIMARY
    rows = []
    for arm in study.arms:
        se = study.values(arm, key + EVAL_SE)
        row = {
            "arm": arm,
            "seed_std": mean_std(study.values(arm, key))[1],
            "eval_se": float(np.mean(se)) if se.size else math.nan,
        }
        if arm != BASELINE:
            row["ci_half_width"] = paired_difference(
                study.by_seed(arm, key), study.by_seed(BASELINE, key)
            ).half_width
        rows.append(row)
    return rows


def protocols(study: StudyResult) -> list[dict[str, Any]]:
    """Per arm: target-test PDJ@0.2 with each seed's epoch chosen by labelled target validation and by the
    label-free score, and the cost of going label-free (labelled − label-free pick, paired by seed)."""
    key = SPLITS["target"] + PRIMARY
    rows = []
    for arm in study.arms:
        labelled, free = study.by_seed(arm, key), study.by_seed(arm, LABEL_FREE_PICK + key)
        rows.append(
            {
                "arm": arm,
                "labelled": mean_std(np.array(list(labelled.values()))),
                "label_free": mean_std(np.array(list(free.values()))),
                "regret": paired_difference(labelled, free),
            }
        )
    return rows


def label_free_metric(study: StudyResult) -> str:
    return study.notes.get("label_free_selection", LABEL_FREE_SELECTION)


def format_protocols(study: StudyResult) -> str:
    """The two selection protocols side by side, per arm."""
    header = [
        "arm",
        f"target PDJ@.2, epoch by {SELECTION_METRIC}",
        f"target PDJ@.2, epoch by {label_free_metric(study)} (no target label)",
        "cost of no labels (points) [95 % CI]",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in protocols(study):
        (m1, s1), (m2, s2), d = row["labelled"], row["label_free"], row["regret"]
        cost = f"{_points(d.mean)} [{_points(d.low)}, {_points(d.high)}]" if d.n else "–"
        lines.append(
            f"| {row['arm']} | {_points(m1)} ± {_points(s1)} | {_points(m2)} ± {_points(s2)} | {cost} |"
        )
    return "\n".join(lines)


def classic_gap(study: StudyResult) -> Interval:
    """Source test − target test PDJ@0.2 of classic, per seed (same model, same joints): the domain gap."""
    key_source, key_target = SPLITS["source"] + PRIMARY, SPLITS["target"] + PRIMARY
    return paired_difference(study.by_seed(BASELINE, key_source), study.by_seed(BASELINE, key_target))


def _interval_fields(interval: Interval) -> dict[str, float]:
    return {"mean": interval.mean, "low": interval.low, "high": interval.high, "n": interval.n}


# --------------------------------------------------------------------------------------------- markdown


def _points(value: float, digits: int = 1) -> str:
    return "–" if not math.isfinite(value) else f"{value * 100:.{digits}f}"


def format_markdown(rows: list[dict[str, Any]], title: str, shown=COLUMNS) -> str:
    header = ["arm", "seeds", *(h for h, _ in shown)]
    lines = [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["arm"], str(row["n_seeds"])]
        for _, suffix in shown:
            scale, digits = (1.0, 2) if suffix == names.RMSE else (100.0, 1)
            mean, std = row[f"{suffix}_mean"] * scale, row[f"{suffix}_std"] * scale
            cells.append(
                f"{mean:.{digits}f} ± {std:.{digits}f}" if math.isfinite(std) else f"{mean:.{digits}f}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_effects(study: StudyResult) -> str:
    """The verdict table: each arm's target PDJ@0.2 (mean ± std) and its differences to classic."""
    key = SPLITS["target"] + PRIMARY
    header = ["arm", "seeds", "target PDJ@.2 all", *(f"Δ {h} [95 % CI]" for h, *_ in EFFECTS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    by_arm = {row["arm"]: row for row in effects(study)}
    for arm in study.arms:
        mean, std = mean_std(study.values(arm, key))
        cells = [arm, str(len(study.by_seed(arm, key))), f"{_points(mean)} ± {_points(std)}"]
        for _, split, metric, _ in EFFECTS:
            if arm == BASELINE:
                cells.append("(baseline)")
                continue
            d = by_arm[arm][SPLITS[split] + metric]
            cells.append(
                f"{d['mean'] * 100:+.1f} [{_points(d['low'])}, {_points(d['high'])}] **{d['verdict']}**"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_noise(study: StudyResult) -> str:
    header = [
        "arm",
        "seed-to-seed std",
        "eval-sampling SE (bootstrap over test images)",
        "±CI half-width vs classic",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in noise(study):
        half = _points(row["ci_half_width"]) if "ci_half_width" in row else "–"
        lines.append(f"| {row['arm']} | {_points(row['seed_std'])} | {_points(row['eval_se'])} | {half} |")
    return "\n".join(lines)


def tables_markdown(study: StudyResult) -> str:
    n = len(study.seeds)
    gap = classic_gap(study)
    effects_note = (
        f"PDJ@0.2 over the shared joints in %, mean ± sample std over seeds. Δ = arm − classic, paired by seed "
        f"(same seeds, same images; seed s fixes initialisation, batch order and augmentation draws), with "
        f"Student's t {CONFIDENCE:.0%} CI on n − 1 degrees of freedom. Verdict: helps / hurts when the CI "
        f"excludes 0, else no detectable effect. Each seed's epoch chosen by {SELECTION_METRIC} (target "
        "validation), then evaluated once on the test splits."
    )
    gap_line = (
        f"Domain gap of classic (source test − target test PDJ@0.2, same model, paired by seed): "
        f"{_points(gap.mean)} points [{_points(gap.low)}, {_points(gap.high)}] over {gap.n} seeds."
    )
    noise_note = (
        "Where the noise comes from: seed-to-seed std of target-test PDJ@0.2 (points) beside the eval-sampling "
        "standard error of one model's score (bootstrap over the test images, mean over seeds). When the "
        "second is close to the first, a bigger test set would shrink the noise; when it is much smaller, "
        "the noise is the training seed's."
    )
    note = (
        f"Mean ± std over {n} seeds; PDJ and PCK in %, RMSE in input pixels. "
        "Labelled joints count (occluded included) except in the visible-only column and tllib's PCK; "
        '"all" = the joints both domains label (head-top excluded). Protocols: docs/metrics.md.'
    )
    return "\n\n".join(
        [
            "**Effect of each arm on the target (test split), against classic**",
            format_effects(study),
            effects_note,
            gap_line,
            "**Choosing without target labels: both selection protocols**",
            format_protocols(study),
            f"Each seed's epoch chosen by {SELECTION_METRIC} (labelled target validation) or by "
            f"{label_free_metric(study)} (reads no target label), then scored on target test; cost = the "
            "labelled pick's score − the label-free pick's, paired by seed (Student's t 95 % CI).",
            "**Noise**",
            format_noise(study),
            noise_note,
            format_markdown(summary(study, "target"), "Target domain, test split", columns(study, "target")),
            format_markdown(summary(study, "source"), "Source domain, test split", columns(study, "source")),
            note,
        ]
    )


# --------------------------------------------------------------------------------------------- files


def write_outputs(study: StudyResult) -> list[str]:
    """table.md, table.csv (aggregated), effects.csv, runs.csv (every arm × seed), checkpoints.csv (every
    epoch of every run), study.json, and plots."""
    out = Path(study.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(tables_markdown(study) + "\n")
    rows = summary(study, "target") + summary(study, "source")
    _write_csv(out / "table.csv", rows)
    _write_csv(
        out / "effects.csv",
        [
            {"arm": row["arm"], "metric": key, **fields}
            for row in effects(study)
            for key, fields in row.items()
            if key != "arm"
        ],
    )
    keys = sorted({k for r in study.runs for k in r} - {"arm", "seed"})
    runs = sorted(study.runs, key=lambda r: (list(study.arms).index(r["arm"]), r["seed"]))
    _write_csv(out / "runs.csv", runs, ["arm", "seed", *keys])
    if study.checkpoints:
        keys = sorted({k for r in study.checkpoints for k in r} - {"arm", "seed", "epoch"})
        _write_csv(out / "checkpoints.csv", study.checkpoints, ["arm", "seed", "epoch", *keys])
    gap = classic_gap(study)
    (out / "study.json").write_text(
        json.dumps(
            {
                "experiment_uri": study.experiment_uri,
                "arms": study.arms,
                "seeds": study.seeds,
                "wall_s": study.wall_s,
                **study.notes,
                "classic_gap_pdj20": _interval_fields(gap),
                "effects": effects(study),
                "noise": noise(study),
                "protocols": [
                    {
                        "arm": r["arm"],
                        "labelled_mean_std": list(r["labelled"]),
                        "label_free_mean_std": list(r["label_free"]),
                        "cost_of_no_labels": _interval_fields(r["regret"]),
                    }
                    for r in protocols(study)
                ],
                "runs": study.runs,
            },
            indent=1,
        )
    )
    files = ("table.md", "table.csv", "effects.csv", "runs.csv", "checkpoints.csv", "study.json")
    written = [str(out / n) for n in files if study.checkpoints or n != "checkpoints.csv"]
    return written + _plots(study, out)


def _write_csv(path: Path, rows: list[dict], fieldnames: list[str] | None = None) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(
            f, fieldnames=fieldnames or list(dict.fromkeys(k for r in rows for k in r)), restval=""
        )
        writer.writeheader()
        writer.writerows(rows)


def _plots(study: StudyResult, out: Path) -> list[str]:
    # Imported here: the Agg backend (no display) must be chosen before pyplot is first imported.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(study.arms)
    key = SPLITS["target"] + PRIMARY
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [1.2, 1]})
    x = np.arange(len(arms))
    for i, arm in enumerate(arms):
        values = study.values(arm, key) * 100
        interval = t_interval(values)
        left.scatter(np.full(len(values), i - 0.15), values, s=12, color="0.5", zorder=2)
        if interval.n >= 2:
            left.errorbar(i + 0.1, interval.mean, yerr=interval.half_width, fmt="o", capsize=5, color="C0")
        elif interval.n == 1:
            left.plot(i + 0.1, interval.mean, "o", color="C0")
    left.set_xticks(x, arms, rotation=20, ha="right")
    left.set_ylabel("target test PDJ@0.2, shared joints (%)")
    left.set_title(f"per seed (grey) and mean with 95 % CI (n = {len(study.seeds)})")
    left.grid(axis="y", alpha=0.3)

    others = [a for a in arms if a != BASELINE]
    diffs = [paired_difference(study.by_seed(a, key), study.by_seed(BASELINE, key)) for a in others]
    y = np.arange(len(others))[::-1]
    for yi, d in zip(y, diffs, strict=True):
        colour = "C2" if d.n >= 2 and d.low > 0 else "C3" if d.n >= 2 and d.high < 0 else "0.3"
        if d.n >= 2:
            right.errorbar(d.mean * 100, yi, xerr=d.half_width * 100, fmt="o", capsize=5, color=colour)
        else:
            right.plot(d.mean * 100, yi, "o", color=colour)
    right.axvline(0, color="k", lw=1)
    right.set_yticks(y, others)
    right.set_xlabel("Δ vs classic, paired by seed (points)")
    right.set_title("difference to classic with 95 % CI")
    right.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "effects.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(arms)
    joints = np.arange(len(LSP14))
    prefix = SPLITS["target"]
    for i, arm in enumerate(arms):
        per_joint = np.array([study.values(arm, f"{prefix}{PER_JOINT_KEY}{j}") for j in LSP14]) * 100
        means = np.nanmean(per_joint, axis=1) if per_joint.size else np.full(len(LSP14), np.nan)
        ax.bar(joints + (i - (len(arms) - 1) / 2) * width, means, width, label=arm)
    ax.set_xticks(joints, LSP14, rotation=45, ha="right")
    ax.set_ylabel("PDJ@0.2 on target test (%)")
    ax.set_title("Per-joint PDJ@0.2 on target test (mean over seeds)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.savefig(out / "per_joint.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return [str(out / "effects.png"), str(out / "per_joint.png")]
