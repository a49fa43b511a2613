"""SURREAL reader: cmu/<split>/run*/<seq>/<seq>_c%04d.mp4 with its _info.mat and _segm.mat.

Frames come from OpenCV's decoder, joints from `joints2D` (2,24,T: x then y, 0-based pixels) mapped with
SMPL24_TO_LSP14 (which undoes the render camera's left/right reflection), the person mask from `segm_t != 0`.
A joint is `labelled` when SMPL defines it with LSP's meaning (every LSP-14 joint but head_top, see
data_pipeline.joints) and it lies inside the frame. SURREAL has no occlusion labels, so `visible` equals
`labelled`: it means "in frame", and self-occluded joints count as visible (the mask and segm are there for
whoever wants a finer rule). The loader's synthetic occluder is what makes source joints not visible.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from data_pipeline.errors import DataError
from data_pipeline.joints import SMPL24_TO_LSP14, map_joints
from data_pipeline.readers._each import read_each
from data_pipeline.readers._mat import load_mat, mat_array
from data_pipeline.readers.sample import Sample

_CLIP_NAME = re.compile(r"^(?P<seq>.+)_c(?P<clip>\d{4})\.mp4$")


@dataclass(frozen=True)
class ClipRef:
    """One clip's three files (small and picklable, so a Ray Data job can spread clips over workers)."""

    video: str
    info: str
    segm: str
    sequence: str
    clip: int
    split: str

    @property
    def name(self) -> str:
        return f"{self.sequence}_c{self.clip:04d}"


def list_surreal_clips(root: str | os.PathLike, split: str = "train") -> list[ClipRef]:
    """Every clip under root/cmu/<split>/run*/<seq>/, sorted; DataError if the split folder is missing."""
    base = Path(root) / "cmu" / split
    if not base.is_dir():
        raise DataError(base, f"no SURREAL split folder (expected {Path(root)}/cmu/{split}/run*/<seq>/)")
    clips = []
    for video in sorted(base.glob("run*/*/*_c[0-9][0-9][0-9][0-9].mp4")):
        match = _CLIP_NAME.match(video.name)
        stem = video.with_suffix("")
        clips.append(
            ClipRef(
                video=str(video),
                info=f"{stem}_info.mat",
                segm=f"{stem}_segm.mat",
                sequence=match["seq"],
                clip=int(match["clip"]),
                split=split,
            )
        )
    return clips


def choose_frames(
    n_frames: int, frames_per_clip: int | None, frame_step: int | None, rng: np.random.Generator
) -> np.ndarray:
    """Frame indices: every `frame_step`-th (default all), then `frames_per_clip` of those drawn at random
    without replacement (all of them when the clip is shorter), sorted."""
    if frame_step is not None and frame_step < 1:
        raise ValueError(f"frame_step must be >= 1, got {frame_step}")
    if frames_per_clip is not None and frames_per_clip < 1:
        raise ValueError(f"frames_per_clip must be >= 1, got {frames_per_clip}")
    candidates = np.arange(0, n_frames, frame_step or 1)
    if frames_per_clip is not None and frames_per_clip < len(candidates):
        candidates = np.sort(rng.choice(candidates, size=frames_per_clip, replace=False))
    return candidates


def _decode(path: str, wanted: set[int]) -> tuple[dict[int, np.ndarray], int]:
    """Decode the whole video (to count its frames) keeping the `wanted` ones as RGB."""
    if not Path(path).is_file():
        raise DataError(path, "file is missing")
    capture = cv2.VideoCapture(path)
    try:
        if not capture.isOpened():
            raise DataError(path, "OpenCV cannot open the video (corrupt or not a video)")
        frames, count = {}, 0
        while capture.grab():
            if count in wanted:
                ok, frame = capture.retrieve()
                if not ok:
                    raise DataError(path, f"frame {count} cannot be decoded")
                frames[count] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            count += 1
    finally:
        capture.release()
    if count == 0:
        raise DataError(path, "no frame could be decoded (corrupt or empty video)")
    return frames, count


def read_surreal_clip(
    clip: ClipRef, frames_per_clip: int | None = None, frame_step: int | None = None, rng_seed: int = 0
) -> list[Sample]:
    """The chosen frames of one clip as Samples; DataError naming the file when any of the three is
    missing, corrupt, or disagrees with the others on the number of frames."""
    info = load_mat(clip.info, required=("joints2D",))
    joints2d = mat_array(info, "joints2D", clip.info, ndim=3)
    if joints2d.shape[:2] != (2, 24):
        raise DataError(clip.info, f"joints2D has shape {joints2d.shape}, expected (2, 24, T)")
    n_info = joints2d.shape[2]
    segm_data = load_mat(clip.segm)
    n_segm = sum(1 for key in segm_data if key.startswith("segm_"))
    if n_segm == 0:
        raise DataError(clip.segm, "holds no segm_<t> variables")

    # The clip's own seed, so the choice does not depend on which other clips were read before it.
    rng = np.random.default_rng([rng_seed, zlib.crc32(clip.name.encode())])
    chosen = choose_frames(min(n_info, n_segm), frames_per_clip, frame_step, rng)
    frames, n_video = _decode(clip.video, set(chosen.tolist()))
    counts = {clip.video: n_video, clip.info: n_info, clip.segm: n_segm}
    if len(set(counts.values())) > 1:
        short = min(counts, key=counts.get)
        described = ", ".join(f"{Path(p).name}: {n}" for p, n in counts.items())
        raise DataError(short, f"has fewer frames than the rest of its clip ({described})")

    samples = []
    for t in chosen.tolist():
        key = f"segm_{t + 1}"
        if key not in segm_data:
            raise DataError(clip.segm, f"missing variable {key}")
        segm = np.asarray(segm_data[key])
        image = frames[t]
        if segm.shape != image.shape[:2]:
            raise DataError(clip.segm, f"{key} has shape {segm.shape}, the video frame {image.shape[:2]}")
        h, w = segm.shape
        xy = joints2d[:, :, t].T
        inside = (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= h - 1)
        joints, labelled = map_joints(xy, SMPL24_TO_LSP14, inside)
        samples.append(
            Sample(
                image=image,
                mask=segm != 0,
                joints=joints,
                labelled=labelled,
                visible=labelled,
                id=f"{clip.name}/f{t:03d}",
                domain="source",
                split=clip.split,
                source_file=clip.video,
            )
        )
    return samples


def read_surreal(
    root: str | os.PathLike,
    split: str = "train",
    frames_per_clip: int | None = None,
    frame_step: int | None = None,
    rng_seed: int = 0,
    skipped: list | None = None,
) -> Iterator[Sample]:
    """Samples from every clip of a split. A corrupt clip is skipped with a warning and, when `skipped`
    (a list) is given, recorded in it as (path, reason)."""
    yield from read_each(
        list_surreal_clips(root, split),
        lambda clip: read_surreal_clip(clip, frames_per_clip, frame_step, rng_seed),
        "SURREAL clip",
        skipped,
    )
