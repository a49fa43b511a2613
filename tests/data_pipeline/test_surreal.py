"""The SURREAL reader on files the generator writes in SURREAL's layout, good and broken."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from data_pipeline.demo import FRAME_SIZE, pose_vector, project, render_clip, write_clip
from data_pipeline.errors import DataError
from data_pipeline.joints import LSP14_INDEX, SMPL24_TO_LSP14, map_joints
from data_pipeline.readers import list_surreal_clips, read_surreal, read_surreal_clip

# The real _info.mat schema (DESIGN.md): shape with "T" for the clip length, and dtype.
INFO_SCHEMA = {
    "joints2D": ((2, 24, "T"), np.float32),
    "joints3D": ((3, 24, "T"), np.float32),
    "pose": ((72, "T"), np.float64),
    "shape": ((10, "T"), np.float64),
    "zrot": (("T", 1), np.float64),
    "light": ((9, "T"), np.float64),
    "camLoc": ((3, 1), np.float64),
    "camDist": ((1, 1), np.float64),
    "gender": (("T", 1), np.uint8),
    "clipNo": ((1, 1), None),
    "stride": ((1, 1), None),
}


def _write(
    tmp_path: Path,
    n_frames: int,
    seed: int = 0,
    split: str = "train",
    seq: str = "01_01",
    clip_no: int = 1,
    **kw,
):
    clip = render_clip(np.random.default_rng(seed), n_frames, seq, clip_no, **kw)
    write_clip(clip, tmp_path / "cmu" / split / "run0" / seq)
    return clip


def _expected_lsp(clip, t):
    (joints,) = map_joints(clip.info["joints2D"][:, :, t].T, SMPL24_TO_LSP14)
    return joints


def test_round_trip_returns_the_generated_joints_frames_and_masks(tmp_path):
    clip = _write(tmp_path, 8, seed=3)
    samples = list(read_surreal(tmp_path, "train"))
    assert [s.id for s in samples] == [f"01_01_c0001/f{t:03d}" for t in range(8)]
    for t, sample in enumerate(samples):
        np.testing.assert_allclose(sample.joints, _expected_lsp(clip, t), atol=1e-4)
        assert sample.joints.dtype == np.float32 and sample.visible.dtype == bool
        assert sample.image.shape == (240, 320, 3) and sample.image.dtype == np.uint8
        np.testing.assert_array_equal(sample.mask, clip.segm[t] != 0)
        # mp4 is lossy: the decoded frame is close to the rendered one, not equal.
        assert np.abs(sample.image.astype(int) - clip.frames[t]).mean() < 6
        assert (sample.domain, sample.split) == ("source", "train")
        # the person is fully inside the frame: every joint SMPL defines like LSP is labelled, and SURREAL
        # has no occlusion labels, so visible means labelled; head-top (SMPL's Head is the head's centre) is not
        head_top = LSP14_INDEX["head_top"]
        assert sample.labelled.sum() == 13 and not sample.labelled[head_top]
        np.testing.assert_array_equal(sample.visible, sample.labelled)


def test_every_info_field_has_the_real_schema(tmp_path):
    clip = _write(tmp_path, 5)
    info = scipy.io.loadmat(tmp_path / "cmu/train/run0/01_01/01_01_c0001_info.mat")
    for name, (shape, dtype) in INFO_SCHEMA.items():
        expected = tuple(5 if d == "T" else d for d in shape)
        assert info[name].shape == expected, name
        if dtype is not None:
            assert info[name].dtype == dtype, name
        assert np.issubdtype(info[name].dtype, np.number), name
    assert str(info["sequence"][0]) == "01_01_c0001" and str(info["source"][0]) == "cmu"
    for name in ("bg", "cloth"):
        assert info[name].shape == (1, 5) and info[name].dtype == object  # a MATLAB cell array
        assert all(isinstance(str(cell[0]), str) and cell.dtype.kind == "U" for cell in info[name][0])
    segm = scipy.io.loadmat(tmp_path / "cmu/train/run0/01_01/01_01_c0001_segm.mat")
    keys = sorted(k for k in segm if not k.startswith("__"))
    assert keys == sorted(f"segm_{t}" for t in range(1, 6))
    for key in keys:
        assert segm[key].shape == (240, 320) and segm[key].dtype == np.uint8
        assert segm[key].max() <= 24
    # Together the frames use (nearly) every one of SMPL's 24 parts.
    assert len(np.unique(clip.segm)) >= 20


def test_joints3d_project_to_joints2d_through_the_reflected_camera(tmp_path):
    clip = _write(tmp_path, 4)
    uv, depth = project(clip.info["joints3D"].transpose(2, 1, 0), clip.info["camLoc"])
    np.testing.assert_allclose(uv, clip.info["joints2D"].transpose(2, 1, 0), atol=1e-3)
    assert (depth > 0).all()


def test_mirroring_smpl_left_arm_is_the_persons_right_on_the_image_left(tmp_path):
    # Facing the camera (yaw 0) with SMPL's L arm raised: an annotator sees the person's right arm
    # raised on the image's left, so LSP right_wrist must be the raised wrist, left of the pelvis.
    raised = pose_vector(l_arm_abd=2.8)
    _write(tmp_path, 1, poses=(raised, raised), positions=((160, 130), (160, 130)))
    (sample,) = read_surreal(tmp_path, "train")
    j = {name: sample.joints[i] for name, i in LSP14_INDEX.items()}
    assert j["right_wrist"][1] < j["neck"][1] < j["left_wrist"][1]  # raised above the neck
    assert j["right_shoulder"][0] < 160 < j["left_shoulder"][0]
    assert j["right_hip"][0] < j["left_hip"][0]
    # The pixel under LSP's right wrist belongs to SMPL's L_Wrist/L_Elbow parts (segm ids 21, 19).
    x, y = np.round(j["right_wrist"]).astype(int)
    segm = scipy.io.loadmat(tmp_path / "cmu/train/run0/01_01/01_01_c0001_segm.mat")["segm_1"]
    assert segm[y, x] in (19, 21, 23)


def test_mirroring_holds_from_behind(tmp_path):
    behind = pose_vector(yaw=np.pi)
    _write(tmp_path, 1, poses=(behind, behind), positions=((160, 130), (160, 130)))
    (sample,) = read_surreal(tmp_path, "train")
    # Seen from behind, the person's right is on the image's right.
    assert sample.joints[LSP14_INDEX["right_shoulder"], 0] > sample.joints[LSP14_INDEX["left_shoulder"], 0]


def test_joints_outside_the_frame_are_not_labelled(tmp_path):
    wide = pose_vector(l_arm_abd=1.5, r_arm_abd=1.5)
    _write(tmp_path, 2, poses=(wide, wide), positions=((2, 130), (2, 130)))
    for sample in read_surreal(tmp_path, "train"):
        outside = sample.joints[:, 0] < 0
        assert outside.any() and not outside.all()
        defined = np.arange(14) != LSP14_INDEX["head_top"]
        np.testing.assert_array_equal(sample.labelled, ~outside & defined)
        np.testing.assert_array_equal(sample.visible, sample.labelled)


def test_single_frame_clip_and_matlab_dropped_trailing_dimension(tmp_path):
    clip = _write(tmp_path, 1)
    (sample,) = read_surreal(tmp_path, "train")
    np.testing.assert_allclose(sample.joints, _expected_lsp(clip, 0), atol=1e-4)
    # MATLAB re-saves a (2, 24, 1) array as (2, 24); the reader must restore T = 1.
    path = tmp_path / "cmu/train/run0/01_01/01_01_c0001_info.mat"
    info = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
    info["joints2D"] = info["joints2D"][:, :, 0].astype(np.float64)
    scipy.io.savemat(path, info)
    (again,) = read_surreal(tmp_path, "train")
    np.testing.assert_allclose(again.joints, sample.joints, atol=1e-4)


def test_frame_choice_by_step_and_by_count_is_stable(tmp_path):
    _write(tmp_path, 12)
    (clip,) = list_surreal_clips(tmp_path, "train")
    assert [s.id[-4:] for s in read_surreal_clip(clip, frame_step=5)] == ["f000", "f005", "f010"]
    picked = [s.id for s in read_surreal_clip(clip, frames_per_clip=3, rng_seed=1)]
    assert len(set(picked)) == 3 and picked == sorted(picked)
    assert picked == [s.id for s in read_surreal_clip(clip, frames_per_clip=3, rng_seed=1)]
    assert len(read_surreal_clip(clip, frames_per_clip=50)) == 12


def _two_clips(tmp_path):
    _write(tmp_path, 4, seed=1, seq="01_01")
    _write(tmp_path, 4, seed=2, seq="02_01")
    return list_surreal_clips(tmp_path, "train")


def _assert_skipped(tmp_path, bad_file: Path, words: str):
    skipped = []
    samples = list(read_surreal(tmp_path, "train", skipped=skipped))
    assert [s.id.split("/")[0] for s in samples] == ["02_01_c0001"] * 4  # the good clip still comes through
    assert len(skipped) == 1 and skipped[0][0] == str(bad_file) and words in skipped[0][1]


def test_corrupt_video_names_the_file_and_the_tree_reader_skips_it(tmp_path):
    bad, _ = _two_clips(tmp_path)
    Path(bad.video).write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 50)
    with pytest.raises(DataError, match="01_01_c0001.mp4") as error:
        read_surreal_clip(bad)
    assert error.value.path == bad.video
    _assert_skipped(tmp_path, Path(bad.video), "video")


def test_truncated_mat_names_the_file(tmp_path):
    bad, _ = _two_clips(tmp_path)
    data = Path(bad.info).read_bytes()
    Path(bad.info).write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="_info.mat: not a readable MATLAB file"):
        read_surreal_clip(bad)
    _assert_skipped(tmp_path, Path(bad.info), "MATLAB")


def test_missing_segm_names_the_file(tmp_path):
    bad, _ = _two_clips(tmp_path)
    Path(bad.segm).unlink()
    with pytest.raises(DataError, match="_segm.mat: file is missing"):
        read_surreal_clip(bad)
    _assert_skipped(tmp_path, Path(bad.segm), "missing")


def test_frame_count_mismatch_names_the_short_file(tmp_path):
    bad, _ = _two_clips(tmp_path)
    segm = {k: v for k, v in scipy.io.loadmat(bad.segm).items() if k.startswith("segm_")}
    del segm["segm_4"]
    scipy.io.savemat(bad.segm, segm)
    with pytest.raises(DataError, match="fewer frames") as error:
        read_surreal_clip(bad)
    assert error.value.path == bad.segm and "_info.mat: 4" in error.value.problem
    # A video one frame short is named too.
    bad2, _ = _two_clips(tmp_path / "v")
    capture = cv2.VideoCapture(bad2.video)
    frames = [capture.read()[1] for _ in range(3)]
    capture.release()
    writer = cv2.VideoWriter(bad2.video, cv2.VideoWriter_fourcc(*"mp4v"), 30, FRAME_SIZE)
    for frame in frames:
        writer.write(frame)
    writer.release()
    with pytest.raises(DataError, match="fewer frames") as error:
        read_surreal_clip(bad2)
    assert error.value.path == bad2.video


def test_missing_split_folder_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no SURREAL split folder"):
        list_surreal_clips(tmp_path, "val")


def test_demo_splits_are_all_readable(demo):
    out, summary = demo
    for split, n_frames in summary["frames"].items():
        skipped = []
        samples = list(read_surreal(out / "surreal", split, skipped=skipped))
        assert len(samples) == n_frames and not skipped
        assert all(s.split == split for s in samples)
