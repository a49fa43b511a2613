"""The source set's clips in SURREAL's format: one person, one outfit and one background per clip, the pose
easing between two draws, rendered through SURREAL's camera and written as mp4 + _info.mat + _segm.mat."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import scipy.io

from data_pipeline.demo.backgrounds import source_background
from data_pipeline.demo.body import PARTS, POSE_KEYS, Body, sample_body, sample_pose, skeleton
from data_pipeline.demo.camera import FOCAL, FPS, FRAME_SIZE, backproject, project
from data_pipeline.demo.paint import (
    Outfit,
    colour_person,
    face_features,
    part_geometry,
    render_segm,
    sample_outfit,
)


@dataclass
class Clip:
    """One rendered clip: frames (T,H,W,3) uint8 RGB, segm (T,H,W) uint8, and every _info.mat field."""

    frames: np.ndarray
    segm: np.ndarray
    info: dict


def _ease(t: np.ndarray) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(np.pi * t)


def _rotvec(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Axis-angle vector rotating direction a onto direction b."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(np.clip(np.dot(a, b), -1, 1))
    return axis / s * np.arctan2(s, c) if s > 1e-9 else np.zeros(3)


@dataclass
class _Scene:
    """What a clip draws before its first frame: who, wearing what, in front of what, and how they move."""

    body: Body
    outfit: Outfit
    background: np.ndarray
    poses: tuple[np.ndarray, np.ndarray]  # the first and last pose, over POSE_KEYS
    sway: float  # amplitude of the sway added to the eased pose (0 when the poses are given)
    sway_phase: np.ndarray
    cam_dist: float
    cam_loc: np.ndarray
    path: tuple[np.ndarray, np.ndarray]  # the pelvis pixel in the first and the last frame
    brightness: float
    light: np.ndarray


def _draw_scene(rng: np.random.Generator, poses, positions) -> _Scene:
    w, h = FRAME_SIZE
    body, outfit = sample_body(rng), sample_outfit(rng)
    background = source_background(rng, (h, w))
    pose_a, pose_b = sample_pose(rng), sample_pose(rng)
    pose_b[0] = pose_a[0] + rng.uniform(-0.6, 0.6)  # turn a little, not all the way round
    sway = 0.08
    if poses is not None:
        pose_a, pose_b, sway = np.asarray(poses[0], float), np.asarray(poses[1], float), 0.0
    cam_dist = float(rng.uniform(5.0, 8.0))
    cam_loc = np.array([0.0, 1.0, cam_dist])  # the person's pelvis sits at Z = 0
    start = np.array([rng.uniform(110, 210), rng.uniform(105, 135)])
    end = start + rng.uniform(-25, 25, size=2)
    if positions is not None:
        start, end = np.asarray(positions[0], float), np.asarray(positions[1], float)
    brightness = float(rng.uniform(0.45, 1.25))  # independent of the background, as in SURREAL
    sway_phase = rng.uniform(0, 2 * np.pi, size=len(POSE_KEYS))
    light = np.concatenate([[brightness], rng.normal(0, 0.3, size=8)])
    return _Scene(
        body, outfit, background, (pose_a, pose_b), sway, sway_phase, cam_dist, cam_loc, (start, end),
        brightness, light,
    )  # fmt: skip


def render_clip(
    rng: np.random.Generator,
    n_frames: int,
    sequence: str,
    clip_no: int,
    poses: tuple[np.ndarray, np.ndarray] | None = None,
    positions: tuple[tuple[float, float], tuple[float, float]] | None = None,
) -> Clip:
    """A smooth clip: one body, one outfit, one background; the pose eases from one draw to another with a
    small sway, and the person's pelvis drifts across the frame. `poses` (first, last; over POSE_KEYS, no
    sway then) and `positions` (first, last pelvis pixel) fix what is otherwise drawn at random."""
    w, h = FRAME_SIZE
    scene = _draw_scene(rng, poses, positions)
    (pose_a, pose_b), (start, end) = scene.poses, scene.path
    t = _ease(np.linspace(0.0, 1.0, n_frames)) if n_frames > 1 else np.zeros(1)
    rest = skeleton(np.zeros(len(POSE_KEYS)), scene.body)[0]

    frames = np.empty((n_frames, h, w, 3), np.uint8)
    segms = np.empty((n_frames, h, w), np.uint8)
    joints2d = np.empty((2, 24, n_frames), np.float32)
    joints3d = np.empty((3, 24, n_frames), np.float32)
    pose_params = np.zeros((72, n_frames))
    zrot = np.empty((n_frames, 1))
    for f in range(n_frames):
        pose = (1 - t[f]) * pose_a + t[f] * pose_b
        pose[1:] += scene.sway * np.sin(2 * np.pi * f / 15.0 + scene.sway_phase[1:])
        pos = (1 - t[f]) * start + t[f] * end
        frames[f], segms[f], uv, world, local = _render_frame(scene, pose, pos)
        joints2d[:, :, f] = uv.T
        joints3d[:, :, f] = world.T
        zrot[f, 0] = pose[0]
        pose_params[:, f] = _pose_params(pose[0], rest, local)
    info = _clip_info(
        rng, scene, f"{sequence}_c{clip_no:04d}", clip_no, joints2d, joints3d, pose_params, zrot
    )
    return Clip(frames, segms, info)


def _render_frame(scene: _Scene, pose: np.ndarray, pos: np.ndarray):
    """One frame of `scene` at `pose` with the pelvis at pixel `pos`: the image (H,W,3) uint8, segm (H,W),
    and the joints in pixels (24,2), in the world (24,3) and in the body frame (24,3)."""
    w, h = FRAME_SIZE
    cam_loc = scene.cam_loc
    pelvis = backproject(pos[0], pos[1], scene.cam_dist, cam_loc)
    local, head_top, head_fwd = skeleton(pose, scene.body)
    world = local + pelvis
    uv, zc = project(world, cam_loc)
    top_uv, _ = project(head_top + pelvis, cam_loc)
    segm = render_segm(part_geometry(uv, zc, top_uv, FOCAL / zc), (h, w))

    def to_pixels(points):
        p_uv, p_z = project(points + pelvis, cam_loc)
        return p_uv, FOCAL / p_z

    face = face_features(
        local, head_fwd, to_pixels, scene.body.scale, toward_camera=np.array([0.0, 0.0, 1.0])
    )
    person, mask = colour_person(segm, scene.outfit, scene.brightness, face)
    image = np.where(mask[..., None], np.clip(person, 0, 255), scene.background).astype(np.uint8)
    return image, segm, uv, world, local


def _pose_params(yaw: float, rest: np.ndarray, local: np.ndarray) -> np.ndarray:
    """A stand-in for SMPL's 72 pose parameters: the global yaw (0:3) and, per part, the rotation vector
    taking its rest bone to its posed bone (global, not parent-relative as in SMPL)."""
    params = np.zeros(72)
    params[0:3] = (0.0, yaw, 0.0)
    for part, (a, b, _) in enumerate(PARTS):
        if b >= 0 and part > 0:
            params[3 * part : 3 * part + 3] = _rotvec(rest[b] - rest[a], local[b] - local[a])
    return params


def _clip_info(rng, scene: _Scene, name: str, clip_no: int, joints2d, joints3d, pose_params, zrot) -> dict:
    """Every _info.mat field. The SMPL-specific ones are stand-ins with the real shapes and dtypes: `pose`
    (see _pose_params); `shape` betas 0/1 carry height and gender; light[0] is the brightness."""
    n_frames = len(zrot)
    body = scene.body
    shape = np.zeros((10, n_frames))
    shape[0], shape[1] = (body.scale - 1.0) * 10, 1.0 if body.gender else -1.0
    bg_name = f"procedural/indoor_{int(rng.integers(0, 10**6)):06d}.jpg"
    return {
        "joints2D": joints2d,
        "joints3D": joints3d,
        "pose": pose_params,
        "shape": shape,
        "zrot": zrot,
        "light": np.repeat(scene.light[:, None], n_frames, axis=1),
        "camLoc": scene.cam_loc.reshape(3, 1),
        "camDist": np.array([[scene.cam_dist]]),
        "gender": np.full((n_frames, 1), body.gender, dtype=np.uint8),
        "clipNo": np.array([[clip_no]], dtype=np.uint8),
        "stride": np.array([[50]], dtype=np.uint8),
        "sequence": name,
        "source": "cmu",
        "bg": _cell_row([bg_name] * n_frames),
        "cloth": _cell_row([scene.outfit.name] * n_frames),
    }


def _cell_row(strings: list[str]) -> np.ndarray:
    """A (1, T) object array of strings, which scipy.io.savemat writes as a MATLAB cell array."""
    cell = np.empty((1, len(strings)), dtype=object)
    for i, s in enumerate(strings):
        cell[0, i] = s
    return cell


_FOURCC: str | None = None


def video_fourcc() -> str:
    """The first fourcc OpenCV can write here: H.264 ('avc1', as the real files) else MPEG-4 ('mp4v')."""
    global _FOURCC
    if _FOURCC is None:
        probe = Path(os.environ.get("TMPDIR", "/tmp")) / f"posetune_fourcc_{os.getpid()}.mp4"
        for fourcc in ("avc1", "mp4v"):
            with _quiet_stderr():
                writer = cv2.VideoWriter(str(probe), cv2.VideoWriter_fourcc(*fourcc), FPS, FRAME_SIZE)
                ok = writer.isOpened()
                writer.release()
            probe.unlink(missing_ok=True)
            if ok:
                _FOURCC = fourcc
                break
        else:
            raise RuntimeError("OpenCV can write neither avc1 nor mp4v video here")
    return _FOURCC


class _quiet_stderr:
    """Silence FFmpeg's encoder probing messages, which bypass Python's sys.stderr."""

    def __enter__(self):
        sys.stderr.flush()
        self._saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    def __exit__(self, *exc):
        os.dup2(self._saved, 2)
        os.close(self._saved)


def write_clip(clip: Clip, directory: Path) -> Path:
    """Write <seq>_c%04d.mp4, _info.mat and _segm.mat as SURREAL lays them out; returns the mp4 path."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = clip.info["sequence"]
    mp4 = directory / f"{stem}.mp4"
    writer = cv2.VideoWriter(str(mp4), cv2.VideoWriter_fourcc(*video_fourcc()), FPS, FRAME_SIZE)
    for frame in clip.frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    scipy.io.savemat(directory / f"{stem}_info.mat", clip.info, do_compression=True)
    segm = {f"segm_{i + 1}": s for i, s in enumerate(clip.segm)}
    scipy.io.savemat(directory / f"{stem}_segm.mat", segm, do_compression=True)
    return mp4
