"""Benchmark of the enhancement stage and the per-trial loader on the procedural demo data.

Measures, in one run: (a) a plain single-process loop over the same functions (read -> brightness ->
crop -> encode -> Parquet), (b) the Ray Data job on a local Ray of `--cpus` cores (ray.init reported
separately; a first "cold" run pays for starting worker processes, a second "warm" one does not),
(c) the per-operation cost of decode, brightness, crop and encode in ms per image, and the loader's
throughput in samples/s (evaluation, augmentation without and with occlusion).

    python -m bench.enhance [--clips 96] [--cpus 2] [--size 256] [--out bench/results/enhance.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import ray

from bench.common import RESULTS
from data_pipeline.demo import write_demo
from data_pipeline.enhance import center_brightness, crop_around_person
from data_pipeline.loader import AugmentConfig, ShardDataset
from data_pipeline.pipeline import EnhanceJob, EnhanceSettings, enhance_sample, rows_to_table, run_enhancement
from data_pipeline.readers import list_surreal_clips, read_lsp, read_surreal_clip
from data_pipeline.schema import encode_image, encode_mask


def _spin(seconds: float) -> None:
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass


def effective_cores(workers: int, seconds: float = 0.25, tasks: int = 8) -> float:
    """CPU-seconds done per wall second by `workers` busy processes: how many cores this run really had
    (the machine is shared; below `workers` means other processes took the rest)."""
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(_spin, [0.01] * workers)  # start the workers first
        start = time.perf_counter()
        pool.map(_spin, [seconds] * tasks, chunksize=1)
        return round(tasks * seconds / (time.perf_counter() - start), 2)


def single_process(demo: Path, settings: EnhanceSettings, out: Path) -> dict:
    """(a) and (c): the job's work as a plain loop, timing each operation."""
    ops = {"decode": 0.0, "brightness": 0.0, "crop": 0.0, "encode": 0.0}
    n = {"decode": 0, "brightness": 0, "crop": 0, "encode": 0}
    started = time.perf_counter()
    rows = []
    samples = []
    for split in ("train", "val", "test"):
        for clip in list_surreal_clips(demo / "surreal", split):
            t = time.perf_counter()
            frames = read_surreal_clip(clip)
            ops["decode"] += time.perf_counter() - t
            n["decode"] += len(frames)
            samples += frames
    t = time.perf_counter()
    targets = list(read_lsp(demo / "lsp"))
    ops["decode"] += time.perf_counter() - t
    n["decode"] += len(targets)
    for sample in samples + targets:
        rows.append(enhance_sample(sample, settings))
    pq.write_table(rows_to_table(rows), out / "loop.parquet")
    total = time.perf_counter() - started
    # per-operation cost, on the same decoded samples (timed apart from the loop above)
    for sample in samples + targets:
        image = sample.image
        if sample.domain == "source":
            t = time.perf_counter()
            image = center_brightness(image, sample.mask)
            ops["brightness"] += time.perf_counter() - t
            n["brightness"] += 1
        t = time.perf_counter()
        crop, mask, *_ = crop_around_person(
            image, sample.mask, sample.joints, sample.labelled, sample.visible, settings.size, settings.margin
        )
        ops["crop"] += time.perf_counter() - t
        t = time.perf_counter()
        encode_image(crop, settings.image_format, settings.jpeg_quality)
        if mask is not None:
            encode_mask(mask)
        ops["encode"] += time.perf_counter() - t
        n["crop"] += 1
        n["encode"] += 1
    per_op = {k: round(1000 * ops[k] / max(n[k], 1), 3) for k in ops}
    return {
        "images": len(rows),
        "seconds": round(total, 3),
        "images_per_s": round(len(rows) / total, 1),
        "ms_per_image": per_op,
    }


def ray_job(demo: Path, settings: EnhanceSettings, out: Path, cpus: int, loop_again) -> dict:
    """(b): the Ray Data job, cold then warm twice, with ray.init timed apart. `loop_again` re-runs the
    single-process loop between the warm runs, so both see the same load from other processes. A last
    warm run turns Ray Data's per-operator resource reservation back on (its default), which the job
    turns off: on 2 CPUs it lets only one enhancing task run at a time."""
    t = time.perf_counter()
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    init_s = time.perf_counter() - t
    runs = []
    try:
        for name in ("cold", "warm", "loop", "warm-2", "warm-ray-default-reservation"):
            if name == "loop":
                loop_again()
                continue
            t = time.perf_counter()
            manifest = run_enhancement(
                [f"surreal:{demo / 'surreal'}"],
                [f"lsp:{demo / 'lsp'}"],
                str(out / f"ray-{name}"),
                settings,
                job=EnhanceJob(progress=False, reserve_operator_resources=name.endswith("reservation")),
                overwrite=True,
            )
            seconds = time.perf_counter() - t
            images = sum(sum(c.values()) for c in manifest["counts"].values())
            runs.append(
                {
                    "run": name,
                    "images": images,
                    "seconds": round(seconds, 3),
                    "images_per_s": round(images / seconds, 1),
                }
            )
    finally:
        ray.shutdown()
    return {"cpus": cpus, "ray_init_s": round(init_s, 3), "runs": runs}


def loader(shards: Path, size: int, n: int) -> dict:
    """Loader throughput in one process (a DataLoader with W workers scales it by about W)."""
    configs = {
        "eval": None,
        "augment": AugmentConfig(occlusion_prob=0.0),
        "augment+occlusion": AugmentConfig(occlusion_prob=1.0),
    }
    results = {}
    for name, aug in configs.items():
        ds = ShardDataset(str(shards), "source", "train", size, augment=aug, seed=0)
        t = time.perf_counter()
        count = 0
        while count < n:
            ds.set_epoch(count // len(ds))
            ds[count % len(ds)]
            count += 1
        results[name] = round(n / (time.perf_counter() - t), 1)
    # how often the occluder finds a background patch in a stored crop (else the sample is unchanged)
    plain = ShardDataset(str(shards), "source", "train", size, augment=configs["augment"], seed=0)
    occl = ShardDataset(str(shards), "source", "train", size, augment=configs["augment+occlusion"], seed=0)
    m = min(len(plain), 200)
    hit = sum(not np.array_equal(plain[i]["image"], occl[i]["image"]) for i in range(m))
    return {"samples_per_s": results, "occlusion_applied_fraction": round(hit / m, 3), "samples_timed": n}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--clips", type=int, default=96, help="demo clips (10-30 frames each, 10 target images per clip)"
    )
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--loader-samples", type=int, default=500)
    parser.add_argument("--out", default=str(RESULTS / "enhance.json"))
    args = parser.parse_args(argv)
    settings = EnhanceSettings(size=args.size)
    threads = cv2.getNumThreads()
    with tempfile.TemporaryDirectory(prefix="posetune-bench-") as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        write_demo(tmp / "demo", clips=args.clips, seed=0)
        demo_s = time.perf_counter() - t
        cores_before = effective_cores(args.cpus)
        loops = [single_process(tmp / "demo", settings, tmp)]
        job = ray_job(
            tmp / "demo",
            settings,
            tmp,
            args.cpus,
            lambda: loops.append(single_process(tmp / "demo", settings, tmp)),
        )
        cv2.setNumThreads(1)
        loop_1 = single_process(tmp / "demo", settings, tmp)
        cv2.setNumThreads(threads)
        load = loader(tmp / "ray-warm", args.size, args.loader_samples)
        cores_after = effective_cores(args.cpus)
    loop = max(loops, key=lambda r: r["images_per_s"])  # best of two: the machine is shared
    loop["runs_images_per_s"] = [r["images_per_s"] for r in loops]
    runs = {r["run"]: r["images_per_s"] for r in job["runs"]}
    warm = max(runs["warm"], runs["warm-2"])
    result = {
        "machine": {
            "effective_cores_before_after": [cores_before, cores_after],
            "load_average": os.getloadavg(),
            "cpus_visible": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "demo": {"clips": args.clips, "generate_s": round(demo_s, 2)},
        "settings": {
            "size": args.size,
            "image_format": settings.image_format,
            "jpeg_quality": settings.jpeg_quality,
        },
        "single_process": loop,  # OpenCV's default threads (it parallelises warps over the cores)
        "single_process_1_thread": loop_1,  # cv2.setNumThreads(1), as inside each Ray task
        "ray_data": job,
        "ratios": {
            "ray_cold_vs_loop": round(job["runs"][0]["images_per_s"] / loop["images_per_s"], 2),
            "ray_warm_vs_loop": round(warm / loop["images_per_s"], 2),
            "ray_warm_vs_loop_1_thread": round(warm / loop_1["images_per_s"], 2),
            "ray_default_reservation_vs_loop": round(
                runs["warm-ray-default-reservation"] / loop["images_per_s"], 2
            ),
            "loader_augment_vs_warm_job": round(load["samples_per_s"]["augment"] / warm, 2),
        },
        "loader": load,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'what':56s} {'value':>10s}")
    print(f"{'single-process loop, images/s':56s} {loop['images_per_s']:10.1f}")
    print(f"{'single-process loop 1 thread, images/s':56s} {loop_1['images_per_s']:10.1f}")
    for run in job["runs"]:
        print(
            f"{'Ray Data (' + str(args.cpus) + ' cpus, ' + run['run'] + '), images/s':56s} {run['images_per_s']:10.1f}"
        )
    print(f"{'ray.init, s':56s} {job['ray_init_s']:10.2f}")
    print(
        f"{'effective cores (of ' + str(args.cpus) + '), before/after':56s} {cores_before:5.2f}/{cores_after:4.2f}"
    )
    for op, ms in loop["ms_per_image"].items():
        print(f"{op + ', ms/image':56s} {ms:10.3f}")
    for name, rate in load["samples_per_s"].items():
        print(f"{'loader ' + name + ', samples/s':56s} {rate:10.1f}")
    for name, ratio in result["ratios"].items():
        print(f"{name:56s} {ratio:10.2f}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
