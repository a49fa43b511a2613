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
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import pickle
import posixpath
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import ray
from pydantic import Field, StrictBool, StrictFloat, StrictInt, field_validator

from data_pipeline import storage
from data_pipeline.enhance import BRIGHTNESS_STEPS, brightness_mode, crop_around_person
from data_pipeline.errors import DataError
from data_pipeline.manifest import SHARDS_MANIFEST, write_shards_manifest
from data_pipeline.outputs import check_output
from data_pipeline.readers import (
    list_coco_images,
    list_lsp_images,
    list_mpii_images,
    list_surreal_clips,
    read_coco_image,
    read_lsp_image,
    read_mpii_image,
    read_surreal_clip,
)
from data_pipeline.readers.folder import list_folder_images, read_folder_image
from data_pipeline.readers.sample import Sample
from data_pipeline.schema import SCHEMA_VERSION, SHARD_SCHEMA, encode_image, encode_mask
from data_pipeline.settings import settings_dataclass

log = logging.getLogger(__name__)

SURREAL_SPLITS = ("train", "val", "test")
TARGET_KINDS = ("lsp", "lsp-extended", "coco", "mpii", "folder")
# How many paths each kind takes (required, optional).
_PATHS = {"surreal": (1, 0), "lsp": (1, 0), "lsp-extended": (1, 0), "coco": (2, 1), "mpii": (2, 1), "folder": (1, 0)}
_USAGE = {
    "surreal": "surreal:DIR",
    "lsp": "lsp:DIR",
    "lsp-extended": "lsp-extended:DIR",
    "coco": "coco:ANNOTATIONS.json:IMAGE_DIR[:SPLITS.json]",
    "mpii": "mpii:ANNOTATIONS.json:IMAGE_DIR[:HEAD_BOXES.mat]",
    "folder": "folder:IMAGE_DIR",
}


@dataclass(frozen=True)
class InputSpec:
    """One dataset to enhance: `surreal:DIR`, `lsp:DIR`, `lsp-extended:DIR`, `coco:ANN.json:IMGDIR[:SPLITS]`
    or `mpii:ANN.json:IMGDIR[:HEAD_BOXES.mat]` (the MPII JSON conversion; gt_valid.mat for PCKh), or
    `folder:IMGDIR` (unlabelled photos, one person each: data_pipeline.readers.folder)."""

    kind: str
    paths: tuple[str, ...]

    def __str__(self) -> str:
        return ":".join((self.kind, *self.paths))

    @property
    def domain(self) -> str:
        return "source" if self.kind == "surreal" else "target"

    def absolute(self) -> InputSpec:
        """The same input with local paths absolute: the tasks reading it run in other working directories."""
        return InputSpec(self.kind, tuple(storage.absolute(path) for path in self.paths))


def parse_input(text: str, domain: str | None = None) -> InputSpec:
    """Parse `KIND:PATH[:PATH]`; `domain` ("source"/"target") restricts the kinds allowed."""
    kind, _, rest = text.partition(":")
    allowed = {"source": ("surreal",), "target": TARGET_KINDS}.get(domain, ("surreal", *TARGET_KINDS))
    if kind not in allowed or not rest:
        raise ValueError(f"{text!r}: expected one of {', '.join(_USAGE[k] for k in allowed)}")
    paths = tuple(rest.split(":"))
    required, optional = _PATHS[kind]
    if not required <= len(paths) <= required + optional:
        raise ValueError(f"{text!r}: expected {_USAGE[kind]}")
    return InputSpec(kind, paths)


@settings_dataclass(frozen=True)
class EnhanceSettings:
    """What the job does to every sample; recorded in the manifest, and settable in a config's `data`."""

    size: StrictInt = Field(256, ge=8, description="side of the stored square crops, pixels")
    margin: StrictFloat = Field(
        0.15, ge=0, le=2, description="crop side = person's longer side x (1 + 2 margin)"
    )
    brightness: Literal["none", "mean", "reinhard"] = Field(
        "mean",
        description="brightness step on source samples: none, mean (study eq. 1-2; true), reinhard (colour "
        "transfer, Reinhard et al. 2001)",
    )
    image_format: Literal["jpeg", "png"] = Field("jpeg", description="how crops are encoded in the shards")
    jpeg_quality: StrictInt = Field(95, ge=1, le=100, description="JPEG quality of the stored crops")
    frames_per_clip: StrictInt | None = Field(
        None, ge=1, description="frames drawn per SURREAL clip (null: all)"
    )
    frame_step: StrictInt | None = Field(
        None, ge=1, description="take every k-th frame of each clip (null: 1)"
    )
    seed: StrictInt = Field(0, ge=0, description="seed of the frame choice and of COCO/MPII target splits")

    @field_validator("brightness", mode="before")
    @classmethod
    def _brightness_name(cls, value: object) -> str:
        """A step's name; true/false (the setting before there were variants) mean "mean"/"none"."""
        return brightness_mode(value)


@settings_dataclass(frozen=True)
class EnhanceJob:
    """How the job spreads over the cluster; the output is the same whatever these are."""

    num_tasks: StrictInt | None = Field(
        None, ge=1, description="cap on concurrent enhancing tasks (null: no cap)"
    )
    clips_per_task: StrictInt = Field(8, ge=1, description="SURREAL clips per Ray task")
    images_per_task: StrictInt = Field(128, ge=1, description="target images per Ray task")
    progress: StrictBool = Field(True, description="Ray Data's progress bars")
    reserve_operator_resources: StrictBool = Field(
        False, description="Ray Data's per-operator reservation (its default; off here, see _job_context)"
    )


# --- Work done on one sample (also what the single-process benchmark loops over) ----------------


def enhance_sample(sample: Sample, settings: EnhanceSettings) -> dict:
    """Brightness (source only) -> crop around the person -> encode: one row of the shard schema."""
    # An unlabelled photo (no mask, no joint: a `folder:` target) is the person's crop whole; a frame whose
    # mask is empty and no joint labelled has no person in it.
    unlabelled_photo = sample.mask is None and sample.domain == "target"
    if (sample.mask is None or not sample.mask.any()) and not np.asarray(sample.labelled).any():
        if not unlabelled_photo:
            raise ValueError("no person in the frame: empty mask and no labelled joint")
    image = sample.image
    centred = settings.brightness != "none" and sample.domain == "source" and sample.mask is not None
    if centred:
        image = BRIGHTNESS_STEPS[settings.brightness](image, sample.mask)
    crop, mask, joints, labelled, visible, matrix = crop_around_person(
        image, sample.mask, sample.joints, sample.labelled, sample.visible, settings.size, settings.margin
    )
    # A similarity transform scales every length by sqrt|det|: the head size follows the crop.
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    return {
        "sample_id": sample.id,
        "domain": sample.domain,
        "split": sample.split,
        "source_file": str(sample.source_file),
        "image": encode_image(crop, settings.image_format, settings.jpeg_quality),
        "mask": None if mask is None else encode_mask(mask),
        "joints": joints.reshape(-1),
        "labelled": labelled,
        "visible": visible,
        "head_size": None if sample.head_size is None else float(sample.head_size) * scale,
        "width": settings.size,
        "height": settings.size,
        "crop_matrix": matrix.reshape(-1).astype(np.float32),
        "brightness_centred": bool(centred),
    }


def rows_to_table(rows: list[dict]) -> pa.Table:
    """Rows from `enhance_sample` -> a table with exactly SHARD_SCHEMA (plain Arrow types)."""
    columns = {}
    for field in SHARD_SCHEMA:
        values = [row[field.name] for row in rows]
        if pa.types.is_fixed_size_list(field.type):
            flat = np.concatenate(values) if values else np.zeros(0)
            inner = pa.array(flat.astype(field.type.value_type.to_pandas_dtype()), field.type.value_type)
            columns[field.name] = pa.FixedSizeListArray.from_arrays(inner, field.type.list_size)
        else:
            columns[field.name] = pa.array(values, field.type)
    return pa.Table.from_arrays(list(columns.values()), schema=SHARD_SCHEMA)


# --- The ledger: every input's fate, written by the tasks beside the output -----------------------


@dataclass(frozen=True)
class _Ledger:
    """Tasks append what became of their inputs as small JSON files in `path` on the output's filesystem
    (shared by every node, as write_parquet needs anyway); the driver reads them back. Records are
    keyed, so a retried task counts once. Cheaper than an actor, which costs a worker process."""

    fs: pafs.FileSystem
    path: str

    def record(self, units: list[dict], dropped: list[dict]) -> None:
        with self.fs.open_output_stream(posixpath.join(self.path, f"{uuid.uuid4().hex}.json")) as f:
            f.write(json.dumps({"units": units, "dropped": dropped}).encode())

    def read(self) -> tuple[list[dict], list[dict]]:
        units: dict[str, dict] = {}
        dropped: dict[str, dict] = {}
        selector = pafs.FileSelector(self.path, allow_not_found=True)
        for info in self.fs.get_file_info(selector):
            with self.fs.open_input_stream(info.path) as f:
                record = json.loads(f.read())
            units.update((u["key"], u) for u in record["units"])
            dropped.update((d["sample_id"], d) for d in record["dropped"])
        return list(units.values()), list(dropped.values())


def _enhance_many(samples: Iterable[Sample], settings: EnhanceSettings) -> tuple[list[dict], list[dict]]:
    cv2.setNumThreads(1)  # each Ray task holds one CPU; OpenCV's own threads would oversubscribe it
    rows, dropped = [], []
    for sample in samples:
        try:
            rows.append(enhance_sample(sample, settings))
        except Exception as error:  # one bad frame must not lose the others
            dropped.append(
                {
                    "sample_id": sample.id,
                    "path": str(sample.source_file),
                    "reason": f"{type(error).__name__}: {error}",
                }
            )
    return rows, dropped


# --- Units of work: a SURREAL clip or a target image, listed on the driver, read by the tasks ------------


def _list_units(spec: InputSpec, seed: int = 0) -> tuple[list[dict], list[dict], list[dict]]:
    """Every unit of one input as a work item {key, input, path, kind, ref}, the parts that could not be
    listed (a missing split folder, an unreadable joints.mat) as skipped-input records, and the target
    images that no split claims (left out by a split file) as unassigned records: reported, not written.
    Listing only reads labels, never images, so the driver stays light."""
    extra = spec.paths[2] if len(spec.paths) > 2 else None
    if spec.kind == "surreal":
        listings = [lambda split=split: list_surreal_clips(spec.paths[0], split) for split in SURREAL_SPLITS]
    elif spec.kind == "coco":
        listings = [lambda: list_coco_images(spec.paths[0], spec.paths[1], splits_file=extra, seed=seed)]
    elif spec.kind == "mpii":
        listings = [lambda: list_mpii_images(spec.paths[0], spec.paths[1], head_boxes=extra, seed=seed)]
    elif spec.kind == "folder":
        listings = [lambda: list_folder_images(spec.paths[0], seed=seed)]
    else:
        listings = [lambda: list_lsp_images(spec.paths[0], extended=spec.kind == "lsp-extended")]
    items, skipped, unassigned = [], [], []
    for listing in listings:
        try:
            refs = listing()
        except DataError as error:
            skipped.append({"path": error.path, "input": str(spec), "reason": error.problem})
            continue
        for ref in refs:
            path = ref.video if spec.kind == "surreal" else ref.path
            if not ref.split:
                unassigned.append({"path": path, "input": str(spec)})
                continue
            items.append(
                {
                    "key": f"{spec}#{path}",
                    "input": str(spec),
                    "path": path,
                    "kind": spec.kind,
                    "ref": pickle.dumps(ref, protocol=5),
                }
            )
    return items, skipped, unassigned


def _read_unit(kind: str, ref, settings: EnhanceSettings) -> list[Sample]:
    if kind == "surreal":
        return read_surreal_clip(
            ref,
            frames_per_clip=settings.frames_per_clip,
            frame_step=settings.frame_step,
            rng_seed=settings.seed,
        )
    if kind == "coco":
        return read_coco_image(ref)
    if kind == "mpii":
        return read_mpii_image(ref)
    if kind == "folder":
        return [read_folder_image(ref)]
    return [read_lsp_image(ref)]


def _enhance_units(batch: pa.Table, settings: EnhanceSettings, ledger) -> pa.Table:
    """map_batches UDF on work items: read each unit, enhance its samples, return shard rows. A unit that
    cannot be read, or whose every sample fails, is recorded as skipped with the reason; the others go on."""
    rows, units, dropped = [], [], []
    for key, spec, path, kind, ref_bytes in zip(
        *(batch[name].to_pylist() for name in ("key", "input", "path", "kind", "ref")), strict=True
    ):
        unit = {"key": key, "input": spec, "path": path, "status": "ok", "reason": None, "samples": 0}
        try:
            samples = _read_unit(kind, pickle.loads(ref_bytes), settings)
        except Exception as error:  # DataError for a corrupt file; anything else is reported the same way
            problem = error.problem if isinstance(error, DataError) else f"{type(error).__name__}: {error}"
            where = error.path if isinstance(error, DataError) else path
            units.append({**unit, "path": where, "status": "skipped", "reason": problem})
            continue
        unit_rows, unit_dropped = _enhance_many(samples, settings)
        rows += unit_rows
        dropped += unit_dropped
        if samples and not unit_rows:
            unit.update(status="skipped", reason=unit_dropped[0]["reason"])
        units.append({**unit, "samples": len(unit_rows)})
    ledger.record(units, dropped)
    return rows_to_table(rows)


# --- Output location and commit ----------------------------------------------------------------------


def _exists(fs: pafs.FileSystem, path: str) -> bool:
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def _is_shards(fs: pafs.FileSystem, path: str) -> bool:
    """Whether `path` holds shards this job wrote (its manifest, with a schema version)."""
    try:
        with fs.open_input_stream(posixpath.join(path, SHARDS_MANIFEST)) as f:
            return "schema_version" in json.loads(f.readall())
    except (OSError, ValueError, TypeError):
        return False


def _check_output(
    fs: pafs.FileSystem, out: str, final: str, inputs: list[InputSpec], overwrite: bool
) -> None:
    """The output rule (`data_pipeline.outputs`): a folder that is, holds or lies inside no input, and
    replaces only shards this job wrote (their manifest), with `--overwrite`."""
    check_output(
        out, folder=True, inputs=[p for spec in inputs for p in spec.paths], overwrite=overwrite,
        owned=lambda fs, path: _is_shards(fs, path),
    )  # fmt: skip


def _commit(fs: pafs.FileSystem, tmp: str, final: str, manifest: dict, overwrite: bool) -> None:
    """Put the finished output under its final name, the new output in place before the old is deleted;
    the manifest is the last thing to appear."""
    empty = _exists(fs, final) and not fs.get_file_info(pafs.FileSelector(final))
    if _exists(fs, final) and not empty and not (overwrite and _is_shards(fs, final)):
        raise DataError(final, "output appeared while the job ran; not overwriting it")
    if isinstance(fs, pafs.LocalFileSystem):
        write_shards_manifest(fs, tmp, manifest)
        old = f"{tmp}.old"
        if _exists(fs, final):
            fs.move(final, old)
        fs.move(tmp, final)  # one rename: the whole output appears at once
        if _exists(fs, old):
            fs.delete_dir(old)
        return
    # Object stores cannot rename a folder: unseal the old output, copy the new files over it, drop the
    # old files the new output lacks, then seal it with the new manifest.
    if _exists(fs, final):
        fs.delete_file(posixpath.join(final, SHARDS_MANIFEST))
    pafs.copy_files(tmp, final, source_filesystem=fs, destination_filesystem=fs)
    new = {posixpath.relpath(i.path, tmp) for i in fs.get_file_info(pafs.FileSelector(tmp, recursive=True))}
    for info in fs.get_file_info(pafs.FileSelector(final, recursive=True)):
        if info.type == pafs.FileType.File and posixpath.relpath(info.path, final) not in new:
            fs.delete_file(info.path)
    write_shards_manifest(fs, final, manifest)
    fs.delete_dir(tmp)


def _count_rows(fs: pafs.FileSystem, path: str) -> dict[str, int]:
    if not _exists(fs, path):
        return {}
    table = pads.dataset(path, format="parquet", filesystem=fs).to_table(columns=["split"])
    counts = table.column("split").value_counts().to_pylist()
    return {c["values"]: int(c["counts"]) for c in sorted(counts, key=lambda c: c["values"])}


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
    fs, final, tmp = _output_location(out, inputs, overwrite)
    work, skipped_inputs, unassigned = _list_work(inputs, settings.seed)
    init_s = _join_ray()
    ledger = _Ledger(fs, f"{tmp}.ledger")
    try:
        fs.create_dir(ledger.path)
        with _job_context(job):
            stage_s, job_s = _write_domains(work, settings, job, fs, tmp, ledger)
        reported, dropped = ledger.read()
        units = _account_for_every_unit(work, reported)
        manifest = _manifest(inputs, units, skipped_inputs, unassigned, dropped, settings, fs, tmp)
        manifest["timing_s"] = {"ray_init": round(init_s, 3), **stage_s, "job": round(job_s, 3)}
        _commit(fs, tmp, final, manifest, overwrite)
    finally:
        for leftover in (tmp, ledger.path):
            if _exists(fs, leftover):
                fs.delete_dir(leftover)
    return manifest


def _input_specs(specs: Iterable[str | InputSpec], domain: str) -> list[InputSpec]:
    """Parsed inputs with local paths absolute: the tasks reading them run in other working directories."""
    return [(spec if isinstance(spec, InputSpec) else parse_input(spec, domain)).absolute() for spec in specs]


def _output_location(out: str, inputs: list[InputSpec], overwrite: bool) -> tuple[pafs.FileSystem, str, str]:
    """(filesystem, final path, temporary sibling the job writes into before the commit), once the output
    is known not to clash with an input or with something `--overwrite` may not replace."""
    fs, final = storage.resolve(out)
    parent, name = posixpath.split(final)
    if not name:
        raise DataError(out, "give a directory (or a prefix inside a bucket) to write into")
    _check_output(fs, out, final, inputs, overwrite)
    return fs, final, posixpath.join(parent, f".{name}.tmp-{uuid.uuid4().hex[:8]}")


def _list_work(inputs: list[InputSpec], seed: int) -> tuple[dict[str, list[dict]], list[dict], list[dict]]:
    """Every unit of every input, by domain, listed before the job runs so the manifest can account for
    each one; the parts of inputs that could not be listed; the target images no split claims."""
    work: dict[str, list[dict]] = {"source": [], "target": []}
    skipped: list[dict] = []
    unassigned: list[dict] = []
    for spec in inputs:
        items, unlisted, left_out = _list_units(spec, seed)
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
            _enhance_units,
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
        "counts": {d: _count_rows(fs, posixpath.join(tmp, d)) for d in ("source", "target")},
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
