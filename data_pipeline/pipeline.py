"""The Ray Data enhancement job: readers -> brightness centring -> crop around the person -> Parquet shards.

The driver lists the units of work from the labels alone (a SURREAL clip; an LSP or COCO image) and
each task reads, enhances and encodes a handful of them, so the work spreads over every node of the
cluster `ray.init()` joins and only small work items and finished rows cross the network. Each domain is
one Ray Data operator, read+enhance fused with the Parquet write.

Occlusion, rotation, scale and flip are not baked in: they are per-trial hyperparameters applied by
`data_pipeline.loader`. Layout and columns: `data_pipeline.schema`.

Every input is accounted for in `shards.json`: each SURREAL clip and each target image is either
written or listed under `skipped` with the reason; a bad input never aborts the job. Output is written
under a temporary sibling and committed by one directory rename (local, NFS), or, on object stores
where directories cannot be renamed, copied and then sealed by writing `shards.json` last (the
loader refuses a root without a manifest).

Layout of the job's code: its settings and inputs in `data_pipeline.enhance_settings`, the tasks' work in
`data_pipeline.enhance_tasks`, the output's location and commit in `data_pipeline.shards_output`; this
module runs the job. The settings' names are re-exported here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import posixpath
import time
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import ray

from data_pipeline.enhance_settings import (
    SURREAL_SPLITS,
    TARGET_KINDS,
    EnhanceJob,
    EnhanceSettings,
    InputSpec,
    parse_input,
)
from data_pipeline.enhance_tasks import Ledger, enhance_sample, enhance_units, list_units, rows_to_table
from data_pipeline.errors import DataError
from data_pipeline.schema import SCHEMA_VERSION
from data_pipeline.shards_output import commit, count_rows, output_location, path_exists

__all__ = [
    "ENHANCE_RESOURCE",
    "SURREAL_SPLITS",
    "TARGET_KINDS",
    "EnhanceJob",
    "EnhanceSettings",
    "InputSpec",
    "enhance_sample",
    "parse_input",
    "rows_to_table",
    "run_enhancement",
]

log = logging.getLogger(__name__)

# --- The job ------------------------------------------------------------------------------------------


ENHANCE_RESOURCE = "enhance_cpu"  # custom resource of the clusters' CPU worker type
_JOB_CONTEXT = ("enable_progress_bars", "op_resource_reservation_enabled")  # restored after the job


def run_enhancement(
    sources: Iterable[str | InputSpec],
    targets: Iterable[str | InputSpec],
    out: str,
    settings: EnhanceSettings | None = None,
    *,
    job: EnhanceJob | None = None,
    overwrite: bool = False,
) -> dict:
    """Enhance `sources` (surreal:DIR) and `targets` (lsp:DIR, coco:ANN:IMGDIR) into Parquet shards at `out`.

    `out` is any location `data_pipeline.storage` resolves (a local path, s3://, gs://). Joins the running
    Ray cluster (RAY_ADDRESS) or starts a local one. Returns the manifest (also in OUT/shards.json).
    """
    settings, job = settings or EnhanceSettings(), job or EnhanceJob()
    inputs = _input_specs(sources, "source") + _input_specs(targets, "target")
    if not inputs:
        raise ValueError("nothing to enhance: give at least one source or target")
    fs, final, tmp = output_location(out, inputs, overwrite)
    work, skipped_inputs, unassigned = _list_work(inputs, settings.seed)
    init_s = _join_ray()
    ledger = Ledger(fs, f"{tmp}.ledger")
    try:
        fs.create_dir(ledger.path)
        with _job_context(job):
            stage_s, job_s = _write_domains(work, settings, job, fs, tmp, ledger)
        reported, dropped = ledger.read()
        units = _account_for_every_unit(work, reported)
        manifest = _manifest(inputs, units, skipped_inputs, unassigned, dropped, settings, fs, tmp)
        manifest["timing_s"] = {"ray_init": round(init_s, 3), **stage_s, "job": round(job_s, 3)}
        commit(fs, tmp, final, manifest, overwrite)
    finally:
        for leftover in (tmp, ledger.path):
            if path_exists(fs, leftover):
                fs.delete_dir(leftover)
    return manifest


def _input_specs(specs: Iterable[str | InputSpec], domain: str) -> list[InputSpec]:
    """Parsed inputs with local paths absolute: the tasks reading them run in other working directories."""
    return [(spec if isinstance(spec, InputSpec) else parse_input(spec, domain)).absolute() for spec in specs]


def _list_work(inputs: list[InputSpec], seed: int) -> tuple[dict[str, list[dict]], list[dict], list[dict]]:
    """Every unit of every input, by domain, listed before the job runs so the manifest can account for
    each one; the parts of inputs that could not be listed; the target images no split claims."""
    work: dict[str, list[dict]] = {"source": [], "target": []}
    skipped: list[dict] = []
    unassigned: list[dict] = []
    for spec in inputs:
        items, unlisted, left_out = list_units(spec, seed)
        work[spec.domain] += items
        skipped += unlisted
        unassigned += left_out
        if left_out:
            log.warning(
                "%s: %d images are in no split (adapt/val/test) and are not written", spec, len(left_out)
            )
    if not work["source"] and not work["target"]:
        first = skipped[0] if skipped else None
        where = first["path"] if first else str(inputs[0].paths[0])
        reason = first["reason"] if first else "no SURREAL clips or target images found"
        raise DataError(where, f"nothing to enhance: {reason}")
    return work, skipped, unassigned


def _join_ray() -> float:
    """Join the cluster RAY_ADDRESS names, or start a local Ray; returns the seconds it took."""
    started = time.perf_counter()
    if not ray.is_initialized():
        ray.init()
    return time.perf_counter() - started


@contextlib.contextmanager
def _job_context(job: EnhanceJob):
    """Ray Data's settings for this job only, restored after it.

    Ray Data reserves part of the cluster for each operator's outputs by default; on 2 CPUs that leaves
    one enhancing task running ("backpressured:tasks(ResourceBudget)" in its log) and halves throughput.
    Each of our jobs is one operator (read+enhance fused with the Parquet write), so the reservation
    protects nothing. bench/enhance.py measures both settings."""
    ctx = ray.data.DataContext.get_current()
    saved = {key: getattr(ctx, key) for key in _JOB_CONTEXT}
    try:
        ctx.enable_progress_bars = job.progress
        ctx.op_resource_reservation_enabled = job.reserve_operator_resources
        yield
    finally:
        for key, value in saved.items():
            setattr(ctx, key, value)


def _write_domains(
    work, settings: EnhanceSettings, job: EnhanceJob, fs, tmp: str, ledger
) -> tuple[dict, float]:
    """Run the job: per domain, work items -> read+enhance -> Parquet under `tmp/<domain>`.

    One write per domain, one after the other: writing both at once from two threads races in Ray's lazy
    imports. Returns the seconds per domain and in all."""
    per_task = {"source": job.clips_per_task, "target": job.images_per_task}
    compute = ray.data.TaskPoolStrategy(size=job.num_tasks)
    # On a cluster whose CPU worker type carries `enhance_cpu` (clusters/), the enhancing tasks ask for it
    # so they land on those workers and never compete with trials for the GPU nodes' CPUs.
    placement = {"resources": {ENHANCE_RESOURCE: 1}} if ray.cluster_resources().get(ENHANCE_RESOURCE) else {}
    stage_s: dict[str, float] = {}
    started = time.perf_counter()
    for domain, items in work.items():
        if not items:
            continue
        t = time.perf_counter()
        ray.data.from_items(items, override_num_blocks=math.ceil(len(items) / per_task[domain])).map_batches(
            enhance_units,
            batch_size=per_task[domain],
            batch_format="pyarrow",
            compute=compute,
            fn_kwargs={"settings": settings, "ledger": ledger},
            **placement,
        ).write_parquet(posixpath.join(tmp, domain), filesystem=fs)
        stage_s[domain] = round(time.perf_counter() - t, 3)
    return stage_s, time.perf_counter() - started


def _account_for_every_unit(work: dict[str, list[dict]], reported: list[dict]) -> dict[str, dict]:
    """What the tasks reported for each unit, by key; a unit no task reported on counts as skipped."""
    by_key = {u["key"]: u for u in reported}
    for items in work.values():
        for item in items:
            listed = {name: item[name] for name in ("key", "input", "path")}
            by_key.setdefault(
                item["key"], {**listed, "status": "skipped", "reason": "no task reported", "samples": 0}
            )
    return by_key


def _manifest(inputs, units: dict[str, dict], skipped_inputs, unassigned, dropped, settings, fs, tmp) -> dict:
    """The shards manifest: counts, every input's fate, the settings and the versions."""
    skipped = list(skipped_inputs)
    skipped += [
        {"path": u["path"], "input": u["input"], "reason": u["reason"]}
        for u in units.values()
        if u["status"] == "skipped"
    ]
    summary = {}
    for spec in inputs:
        mine = [u for u in units.values() if u["input"] == str(spec)]
        summary[str(spec)] = {
            "units": "clips" if spec.kind == "surreal" else "images",
            "total": len(mine),
            "ok": sum(u["status"] == "ok" for u in mine),
            "skipped": sum(u["status"] == "skipped" for u in mine),
            "unassigned": sum(u["input"] == str(spec) for u in unassigned),
            "samples_written": sum(u["samples"] for u in mine),
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "layout": {"source": "source/*.parquet", "target": "target/*.parquet"},
        "counts": {d: count_rows(fs, posixpath.join(tmp, d)) for d in ("source", "target")},
        "inputs": summary,
        "skipped": sorted(skipped, key=lambda s: (s["input"], s["path"])),
        "unassigned": sorted(unassigned, key=lambda s: (s["input"], s["path"])),
        "dropped_samples": sorted(dropped, key=lambda d: d["sample_id"]),
        "settings": dataclasses.asdict(settings),
        "sources": [str(s) for s in inputs if s.domain == "source"],
        "targets": [str(t) for t in inputs if t.domain == "target"],
        "versions": {"ray": ray.__version__, "pyarrow": pa.__version__, "numpy": np.__version__},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
