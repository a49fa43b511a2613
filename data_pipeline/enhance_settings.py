"""The enhancement job's settings and inputs: what it reads (`InputSpec`, parsed from `KIND:PATH[:PATH]`),
what it does to every sample (`EnhanceSettings`, recorded in the shards manifest) and how it spreads over
the cluster (`EnhanceJob`). Light on purpose: a config loads these without importing Ray."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, field_validator

from data_pipeline import storage
from data_pipeline.enhance import brightness_mode
from data_pipeline.settings import settings_dataclass

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
