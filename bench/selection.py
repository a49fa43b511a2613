"""How well each label-free score chooses a checkpoint, scored against the labelled oracle (issue 22 item 3).

The Sobol table (`python -m bench.search_table --sobol`, `bench/results/search_table_demo.jsonl`) holds, for
every configuration x training seed x epoch, that checkpoint's validation metrics, its label-free scores
and its target-test PDJ@0.2 (`test_target_pdj20`, the checkpoint itself scored on the target test split).
Every checkpoint of it is a candidate model.

Method. For each metric (oriented so that higher is better: `models.metric_names.mode`) over the
checkpoints where it is finite: its weighted Spearman correlation with target-val PDJ@0.2 and with
target-test PDJ@0.2, as Musgrave et al. 2022 (powerful-benchmarker's `weighted_spearman`): a Pearson
correlation of the two rank vectors in which checkpoint i weighs (dense rank of its score / the highest
dense rank)^2, so the checkpoints the metric puts on top count most (plain ranks here: the reference code's
WeightedCorr also weights the ranks themselves). The selection regret, in points of target-test PDJ@0.2:
that of the checkpoint target-val picks minus that of the checkpoint the metric picks (positive: the metric
chose worse; negative: it happened to choose better on test), in three settings: `table` (one pick among
every checkpoint), `pool6` (the mean over random pools of 6 configurations, the demo's `num_samples`, each
with all its seeds and epochs) and `epoch` (within each run, the epoch; mean over runs: the study's
protocol). 95 % CIs: percentile bootstrap, configurations resampled (a configuration brings all its seeds
and epochs). The combination: the rank average of two label-free scores (within the candidate set),
the pair chosen by the weighted Spearman with target-val on 4/5 of the configurations and scored on
the held-out fifth (5-fold over configurations), and its held-out regret.

The study's runs (`--study bench/results/study/checkpoints.csv`, written by `posetune study`: every arm x
seed x epoch with its validation metrics and that epoch's own target-test PDJ@0.2) are scored the same way,
each run (arm x seed) its own unit: its epochs are the candidates of `epoch`, every checkpoint of every arm
those of `table`; the CIs resample runs (there are only 5 arms), and `pool6` has no meaning there.

    python -m bench.selection [--table bench/results/search_table_demo.jsonl] [--out bench/results]
    python -m bench.selection --study bench/results/study/checkpoints.csv --name selection_study
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy.stats import rankdata

from bench.common import command
from bench.tables import read_jsonl_table
from models import metric_names as names

ORACLE = names.SELECTION  # target_val_pdj20: the labelled oracle
TEST = names.TEST_TARGET + names.PDJ20  # test_target_pdj20: what a pick is worth
METRICS = (
    ORACLE,
    names.SOURCE_VAL + names.PDJ20,
    names.DEV,
    names.DOMAIN_PROBE_ACC,
    *(names.TARGET_VAL + m for m in names.LABEL_FREE_SPLIT),
    names.DOMAIN_ACC,
)
LABEL_FREE = METRICS[1:]
POWER = 2  # Musgrave et al.'s weight exponent
POOL = 6  # configurations per pool: the demo's search.num_samples
POOLS = 400  # random pools per estimate
BOOTSTRAP = 1000
FOLDS = 5


# --------------------------------------------------------------------------------------- the measures


def oriented(metric: str, values: np.ndarray) -> np.ndarray:
    """`values` of `metric` with higher = better."""
    return values if names.mode(metric) == "max" else -values


def weighted_spearman(score: np.ndarray, truth: np.ndarray, power: float = POWER) -> float:
    """Musgrave et al. 2022's weighted Spearman: Pearson correlation of the ranks of `score` and `truth`,
    checkpoint i weighted by (dense rank of score_i / max dense rank)^power (the top of `score` counts most)."""
    score, truth = np.asarray(score, float), np.asarray(truth, float)
    if len(score) < 3 or np.ptp(score) == 0 or np.ptp(truth) == 0:
        return math.nan
    dense = rankdata(score, method="dense")
    w = (dense / dense.max()) ** power
    x, y = rankdata(score), rankdata(truth)
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    cov = np.average((x - mx) * (y - my), weights=w)
    return float(cov / math.sqrt(np.average((x - mx) ** 2, weights=w) * np.average((y - my) ** 2, weights=w)))


def regret(score: np.ndarray, oracle: np.ndarray, test: np.ndarray) -> float:
    """Points of `test` (a 0-1 PDJ) lost by picking the checkpoint `score` ranks first instead of the one
    `oracle` ranks first (first of equals)."""
    return 100.0 * float(test[int(np.argmax(oracle))] - test[int(np.argmax(score))])


def epoch_regret(score, oracle, test, runs: np.ndarray) -> float:
    """Mean over runs of the regret of picking the epoch within each run."""
    return float(
        np.mean([regret(score[runs == r], oracle[runs == r], test[runs == r]) for r in np.unique(runs)])
    )


def pool_regret(score, oracle, test, configs: np.ndarray, rng: np.random.Generator, pools=POOLS, size=POOL):
    """Mean regret over `pools` random pools of `size` configurations (each with all its checkpoints)."""
    unique = np.unique(configs)
    out = []
    for _ in range(pools):
        chosen = rng.choice(unique, size=min(size, len(unique)), replace=False)
        mask = np.isin(configs, chosen)
        out.append(regret(score[mask], oracle[mask], test[mask]))
    return float(np.mean(out))


def rank_average(*scores: np.ndarray) -> np.ndarray:
    """The mean of each score's normalised rank (0 worst, 1 best) within the candidates."""
    return np.mean([(rankdata(s) - 1) / max(1, len(s) - 1) for s in scores], axis=0)


# ---------------------------------------------------------------------------------------- the table


def checkpoints(table: dict) -> dict[str, np.ndarray]:
    """Every checkpoint of the table as columns: config, run, epoch, and each metric (nan where missing)."""
    rows: dict[str, list] = {"config": [], "run": [], "epoch": [], **{m: [] for m in (*METRICS, TEST)}}
    for r, run in enumerate(table["runs"]):
        for e in range(run["epochs"]):
            rows["config"].append(run["index"])
            rows["run"].append(r)
            rows["epoch"].append(e + 1)
            for m in (*METRICS, TEST):
                v = run["curves"].get(m, [None] * run["epochs"])[e]
                rows[m].append(math.nan if v is None else v)
    return {k: np.array(v, dtype=float if k in (*METRICS, TEST) else int) for k, v in rows.items()}


def study_checkpoints(path: str | Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """Every checkpoint of a study's checkpoints.csv as columns (nan where missing): `config` and `run` both
    the run (arm x seed, the unit resampled), its epoch, each metric; and the arms in order of appearance."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or TEST not in rows[0]:
        raise SystemExit(f"{path}: not a study's checkpoints.csv (no {TEST} column)")
    runs = list(dict.fromkeys((r["arm"], r["seed"]) for r in rows))
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    cols = {
        "config": [runs.index((r["arm"], r["seed"])) for r in rows],
        "epoch": [int(r["epoch"]) for r in rows],
    }
    cols = {k: np.array(v, dtype=int) for k, v in cols.items()}
    cols["run"] = cols["config"].copy()
    for m in (*METRICS, TEST):
        cols[m] = np.array([float(r[m]) if r.get(m) not in (None, "") else math.nan for r in rows])
    return cols, arms


def resample(cols: dict, configs: np.ndarray) -> dict:
    """The checkpoints of `configs` (with repeats; a repeat is a new configuration and new runs)."""
    parts = []
    for k, c in enumerate(configs):
        idx = np.flatnonzero(cols["config"] == c)
        parts.append((k, idx))
    out = {key: np.concatenate([v[idx] for _, idx in parts]) for key, v in cols.items()}
    out["config"] = np.concatenate([np.full(len(idx), k) for k, idx in parts])
    out["run"] = np.concatenate([cols["run"][idx] + 100000 * k for k, idx in parts])
    return out


def measures(cols: dict, metric: str, rng: np.random.Generator, pools: int = POOLS) -> dict[str, float]:
    ok = np.isfinite(cols[metric]) & np.isfinite(cols[ORACLE]) & np.isfinite(cols[TEST])
    if not ok.any():  # a resample without a run that has this metric (domain_acc: adversarial runs only)
        keys = ("wspearman_val", "wspearman_test", "regret_table", *(("regret_pool6",) if pools else ()))
        return {**dict.fromkeys((*keys, "regret_epoch"), math.nan), "checkpoints": 0}
    score = oriented(metric, cols[metric][ok])
    oracle, test, configs, runs = cols[ORACLE][ok], cols[TEST][ok], cols["config"][ok], cols["run"][ok]
    pool = {"regret_pool6": pool_regret(score, oracle, test, configs, rng, pools)} if pools else {}
    return {
        "wspearman_val": weighted_spearman(score, oracle),
        "wspearman_test": weighted_spearman(score, test),
        "regret_table": regret(score, oracle, test),
        **pool,
        "regret_epoch": epoch_regret(score, oracle, test, runs),
        "checkpoints": int(ok.sum()),
    }


def with_ci(cols: dict, metric: str, boots: int, seed: int = 0, pools: int = POOLS) -> dict:
    """`measures` with percentile-bootstrap 95 % CIs, the units in `cols["config"]` resampled; `pools` 0:
    no pool6 regret."""
    rng = np.random.default_rng(seed)
    point = measures(cols, metric, rng, pools)
    unique = np.unique(cols["config"])
    samples = [
        measures(
            resample(cols, rng.choice(unique, len(unique))), metric, rng, pools=pools and max(50, POOLS // 8)
        )
        for _ in range(boots)
    ]
    out = {"checkpoints": point.pop("checkpoints")}
    for key, value in point.items():
        values = np.array([s[key] for s in samples])
        values = values[np.isfinite(values)]
        low, high = np.percentile(values, [2.5, 97.5]) if len(values) else (math.nan, math.nan)
        out[key] = {"value": round(value, 4), "ci95": [round(float(low), 4), round(float(high), 4)]}
    return out


def combination(cols: dict, metrics: list[str], seed: int = 0) -> dict:
    """A rank average of two label-free scores, the pair chosen on training configurations (weighted
    Spearman with target-val), scored on held-out ones (FOLDS-fold over configurations)."""
    rng = np.random.default_rng(seed)
    unique = rng.permutation(np.unique(cols["config"]))
    folds = np.array_split(unique, FOLDS)
    pairs = [(m,) for m in metrics] + list(itertools.combinations(metrics, 2))

    def score_of(sub: dict, pair) -> np.ndarray:
        return rank_average(*(oriented(m, sub[m]) for m in pair))

    chosen, held = [], {"wspearman_val": [], "wspearman_test": [], "regret_table": [], "regret_epoch": []}
    for fold in folds:
        train = resample(cols, np.setdiff1d(unique, fold))
        test = resample(cols, fold)
        ok_train = np.all([np.isfinite(train[m]) for m in metrics], axis=0)
        ok_test = np.all([np.isfinite(test[m]) for m in metrics], axis=0)
        train = {k: v[ok_train] for k, v in train.items()}
        test = {k: v[ok_test] for k, v in test.items()}
        best = max(pairs, key=lambda p: weighted_spearman(score_of(train, p), train[ORACLE]))
        chosen.append(list(best))
        s = score_of(test, best)
        held["wspearman_val"].append(weighted_spearman(s, test[ORACLE]))
        held["wspearman_test"].append(weighted_spearman(s, test[TEST]))
        held["regret_table"].append(regret(s, test[ORACLE], test[TEST]))
        held["regret_epoch"].append(epoch_regret(s, test[ORACLE], test[TEST], test["run"]))
    return {
        "candidates": "each label-free score alone and the rank average of every pair",
        "chosen_per_fold": chosen,
        "held_out_mean": {k: round(float(np.mean(v)), 4) for k, v in held.items()},
        "held_out_per_fold": {k: [round(float(x), 4) for x in v] for k, v in held.items()},
    }


# ------------------------------------------------------------------------------------------------ main


def plot(result: dict, path: Path) -> None:
    """Each metric's weighted Spearman correlations and selection regrets, with their 95 % CIs."""
    metrics = list(result["metrics"])
    y = np.arange(len(metrics))
    fig = Figure(figsize=(12, 0.45 * len(metrics) + 1.8))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, keys, title in (
        (axes[0], ("wspearman_val", "wspearman_test"), "weighted Spearman (top-weighted, p=2)"),
        (
            axes[1],
            [
                k
                for k in ("regret_table", "regret_pool6", "regret_epoch")
                if k in result["metrics"][metrics[0]]
            ],
            "selection regret, test PDJ@0.2 points",
        ),
    ):
        h = 0.8 / len(keys)
        for k, key in enumerate(keys):
            vals = np.array([result["metrics"][m][key]["value"] for m in metrics])
            ci = np.array([result["metrics"][m][key]["ci95"] for m in metrics])
            err = np.abs(ci.T - vals)
            ax.barh(y + (k - (len(keys) - 1) / 2) * h, vals, h, xerr=err, capsize=2, label=key)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, axis="x")
    axes[0].set_yticks(y, metrics, fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle(
        f"Label-free checkpoint selection on {result['source']}: {result['configurations']} {result['units']}, "
        f"{result['checkpoints']} checkpoints; 95 % CIs: {result['units']} resampled",
        fontsize=9,
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--table", default="bench/results/search_table_demo.jsonl")
    parser.add_argument("--study", help="a study's checkpoints.csv, scored instead of the table")
    parser.add_argument("--bootstrap", type=int, default=BOOTSTRAP, help="resamples per CI (default 1000)")
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--name", default="selection", help="output file stem")
    args = parser.parse_args(argv)
    if args.study:
        cols, arms = study_checkpoints(args.study)
        about = {
            "source": "the study's runs",
            "study": args.study,
            "arms": arms,
            "units": "runs (arm x seed)",
        }
        pools = 0
    else:
        table = read_jsonl_table(args.table)
        table["runs"] = [r for r in table["runs"] if r["status"] == "TERMINATED"]
        cols = checkpoints(table)
        about = {"source": "the demo Sobol table", "table": args.table, "units": "configurations"}
        about["epochs"] = table["epochs"]
        pools = POOLS
    present = [m for m in METRICS if np.isfinite(cols[m]).any()]
    result = {
        "method": __doc__.split("Method.")[1].split("\n\n")[0].replace("\n", " ").strip(),
        **about,
        "configurations": int(len(np.unique(cols["config"]))),
        "runs": int(len(np.unique(cols["run"]))),
        "checkpoints": int(len(cols["config"])),
        "oracle": ORACLE,
        "test": TEST,
        "weights": f"(dense rank of the oriented score / max dense rank)^{POWER}",
        "bootstrap": args.bootstrap,
        "metrics": {m: with_ci(cols, m, args.bootstrap, pools=pools) for m in present},
        "command": command("bench.selection", argv),
    }
    free = [m for m in present if m in LABEL_FREE and m != names.DOMAIN_ACC]
    result["combination"] = combination(cols, free)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(result, indent=1))
    plot(result, out / f"{args.name}.png")
    for m, r in result["metrics"].items():
        regrets = "  ".join(
            f"{key[len('regret_') :]} {r[key]['value']:+.2f} {r[key]['ci95']}"
            for key in r
            if key.startswith("regret_")
        )
        print(
            f"{m:26s} wSpearman val {r['wspearman_val']['value']:+.3f} test {r['wspearman_test']['value']:+.3f}  {regrets}"
        )
    print(
        "combination:",
        json.dumps(result["combination"]["held_out_mean"]),
        result["combination"]["chosen_per_fold"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
