"""Memory per node against the number of trials: private in-memory splits (the old loader) vs the node-local
memory-mapped copy (`data_pipeline.shard_cache`), measured in one run.

Each "trial" is a process that imports torch, opens the source training split as a trial does
(ShardDataset with augmentation), walks every page of its encoded images (what one epoch does) and decodes
200 items, then waits. With 1, 2 and 4 such processes alive at once, the script sums their PSS
(proportional set size, /proc/<pid>/smaps_rollup: a shared page counts 1/n in each of the n processes that
map it, so the sum is the node's real use) and their RSS. The demo shards are scaled up by writing the
enhanced source rows `--copies` times under new ids.

    python -m bench.shard_memory [--clips 24] [--copies 40] [--out bench/results/shard_memory.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.common import RESULTS, ROOT
from bench.demo_shards import demo_shards
from data_pipeline.manifest import SHARDS_MANIFEST


def scaled_shards(work: Path, clips: int, copies: int) -> Path:
    """Demo shards at 256 px (through the CLI), the source rows then written `copies` times under new ids."""
    big = work / f"shards-x{copies}"
    if (big / SHARDS_MANIFEST).is_file():
        return big
    shards = demo_shards(work, clips, 256)
    table = pq.read_table(shards / "source")
    (big / "source").mkdir(parents=True)
    for copy in range(copies):
        ids = pc.binary_join_element_wise(table.column("sample_id"), f"#{copy:03d}", "")
        pq.write_table(table.set_column(0, "sample_id", ids), big / "source" / f"part-{copy:03d}.parquet")
    manifest = json.loads((shards / SHARDS_MANIFEST).read_text())
    (big / SHARDS_MANIFEST).write_text(json.dumps(manifest))
    return big


def _rollup(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        out[key] = int(value.split()[0]) * 1024
    return out


def measure(root: Path, mode: str, n: int, cache: Path) -> dict:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.shard_memory_child", str(root), mode, str(cache)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )  # fmt: skip
        for _ in range(n)
    ]
    started = time.perf_counter()
    infos = [json.loads(p.stdout.readline()) for p in procs]
    ready = time.perf_counter() - started
    rollups = [_rollup(p.pid) for p in procs]
    for p in procs:
        p.stdin.close()
        p.wait()
    return {
        "mode": mode,
        "processes": n,
        "pss_total_mib": sum(r["Pss"] for r in rollups) / 2**20,
        "rss_total_mib": sum(r["Rss"] for r in rollups) / 2**20,
        "pss_each_mib": [r["Pss"] / 2**20 for r in rollups],
        "seconds_to_ready": ready,
        "child": infos[0],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--copies", type=int, default=40)
    parser.add_argument("--trials", default="1,2,4")
    parser.add_argument("--work", default=None)
    parser.add_argument("--out", default=str(RESULTS / "shard_memory.json"))
    args = parser.parse_args(argv)

    work = Path(args.work or tempfile.mkdtemp(prefix="posetune-shardmem-"))
    root = scaled_shards(work, args.clips, args.copies)
    cache = work / "cache"
    counts = [int(n) for n in args.trials.split(",")]
    report: dict = {"shards": str(root), "copies": args.copies, "loadavg_start": os.getloadavg(), "runs": []}
    started = time.perf_counter()
    write = measure(root, "mapped", 1, cache)  # the first trial on the node writes the mapped copy
    report["first_mapped_open_s"] = write["seconds_to_ready"]
    report["cache_file_mib"] = sum(f.stat().st_size for f in cache.glob("*.arrow")) / 2**20
    for mode in ("baseline", "private", "mapped"):
        for n in counts:
            row = measure(root, mode, n, cache)
            report["runs"].append(row)
            print(
                f"{mode:8s} x{n}: PSS {row['pss_total_mib']:8.1f} MiB  RSS {row['rss_total_mib']:8.1f} MiB",
                flush=True,
            )
    base = {r["processes"]: r["pss_total_mib"] for r in report["runs"] if r["mode"] == "baseline"}
    report["data_pss_mib"] = {
        mode: {
            r["processes"]: r["pss_total_mib"] - base[r["processes"]]
            for r in report["runs"]
            if r["mode"] == mode
        }
        for mode in ("private", "mapped")
    }
    report["seconds"] = time.perf_counter() - started
    report["loadavg"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["data_pss_mib"], indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
