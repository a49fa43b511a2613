"""What the enhancement job's tasks do: list the units of work on the driver (a SURREAL clip, a target
image; from the labels alone), and in each task read them, enhance every sample (brightness centring ->
crop around the person -> encode, `enhance_sample`) into rows of the shard schema, and record every
input's fate in the `Ledger` beside the output."""

from __future__ import annotations

import json
import pickle
import posixpath
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from data_pipeline.enhance import BRIGHTNESS_STEPS, crop_around_person
from data_pipeline.enhance_settings import SURREAL_SPLITS, EnhanceSettings, InputSpec
from data_pipeline.errors import DataError
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
from data_pipeline.schema import SHARD_SCHEMA, encode_image, encode_mask

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
class Ledger:
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


def list_units(spec: InputSpec, seed: int = 0) -> tuple[list[dict], list[dict], list[dict]]:
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


def enhance_units(batch: pa.Table, settings: EnhanceSettings, ledger) -> pa.Table:
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
