"""The demo's domain-shift factors: each knob moves its own part of the target image and nothing else, 0
renders the target like the source, and the source never depends on the knobs."""

import json

import numpy as np
import pytest
import scipy.io
from pydantic import ValidationError

from data_pipeline.demo import FRAME_SIZE, demo_exists, render_target, source_background, write_demo
from data_pipeline.shift import SHIFT_FACTORS, DomainShift

SEEDS = range(6)


def _render(shift, k):
    return render_target(np.random.default_rng([11, 1, k]), shift)


def test_every_factor_at_zero_frames_the_person_as_the_source_camera_does():
    for k in SEEDS:
        image, joints, _ = _render(DomainShift.none(), k)
        assert image.shape == (FRAME_SIZE[1], FRAME_SIZE[0], 3)
        full, _, _ = _render(DomainShift(), k)
        assert full.shape != image.shape  # the default framing pulls the frame in around the person


@pytest.mark.parametrize("factor", ["lighting", "background", "texture", "occluders", "degradation"])
def test_one_factor_alone_changes_the_image_but_keeps_the_person_and_pose(factor):
    changed = 0
    for k in SEEDS:
        base_image, base_joints, base_occluded = _render(DomainShift.none(), k)
        image, joints, occluded = _render(DomainShift.only(factor), k)
        np.testing.assert_array_equal(joints, base_joints)  # same person, pose and framing
        if factor != "occluders":
            np.testing.assert_array_equal(occluded, base_occluded)
        changed += int((np.abs(image.astype(int) - base_image) > 8).any(axis=-1).mean() > 0.005)
    assert changed == len(SEEDS)


def test_framing_alone_moves_the_joints_and_nothing_else_draws_differently():
    moved = 0
    for k in SEEDS:
        _, base_joints, _ = _render(DomainShift.none(), k)
        image, joints, _ = _render(DomainShift.only("framing"), k)
        moved += int(not np.allclose(joints, base_joints))
        # the framing stream's half-strength draws sit between 0 and 1: a knob, not a switch
        half, _, _ = _render(DomainShift.only("framing", 0.5), k)
        assert half.shape[0] <= max(image.shape[0], FRAME_SIZE[1]) + 1
    assert moved == len(SEEDS)


def test_occluders_hide_joints_under_them():
    hidden = 0
    for k in range(12):
        _, _, base = _render(DomainShift.none(), k)
        _, _, occluded = _render(DomainShift.only("occluders"), k)
        assert not (base & ~occluded).any()  # self-occlusion is kept
        hidden += int((occluded & ~base).sum())
    assert hidden > 0


def test_degradation_adds_grain_the_source_like_target_lacks():
    import cv2

    def grain(image):
        return np.median(np.abs(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F)))

    clean = np.mean([grain(_render(DomainShift.none(), k)[0]) for k in SEEDS])
    noisy = np.mean([grain(_render(DomainShift.only("degradation"), k)[0]) for k in SEEDS])
    assert noisy > 2 * clean


def test_the_source_is_the_same_whatever_the_shift_and_the_marker_records_it(tmp_path):
    shift = DomainShift.only("lighting", 0.5)
    write_demo(tmp_path / "a", clips=1, seed=2, frames=(2, 2), target_images=2)
    write_demo(tmp_path / "b", clips=1, seed=2, frames=(2, 2), target_images=2, shift=shift)
    source_a = sorted((tmp_path / "a/surreal").rglob("*.mp4"))[0]
    source_b = tmp_path / "b/surreal" / source_a.relative_to(tmp_path / "a/surreal")
    assert source_a.read_bytes() == source_b.read_bytes()
    segm = source_a.name.replace(".mp4", "_segm.mat")
    a, b = scipy.io.loadmat(source_a.with_name(segm)), scipy.io.loadmat(source_b.with_name(segm))
    np.testing.assert_array_equal(a["segm_1"], b["segm_1"])
    assert (tmp_path / "a/lsp/images/im0001.jpg").read_bytes() != (
        tmp_path / "b/lsp/images/im0001.jpg"
    ).read_bytes()
    marker = json.loads((tmp_path / "b/lsp/posetune-demo.json").read_text())
    assert marker["shift"] == shift.as_dict()
    assert demo_exists(tmp_path / "b", shift) and not demo_exists(tmp_path / "b")
    assert demo_exists(tmp_path / "a") and not demo_exists(tmp_path / "a", shift)


def test_shift_settings_are_validated_and_named():
    assert DomainShift().tag() == ""
    assert DomainShift.only("texture").tag() == "shift-l0-b0-t1-o0-d0-f0"
    assert set(DomainShift().as_dict()) == set(SHIFT_FACTORS)
    with pytest.raises(ValueError, match="unknown domain-shift factor 'colour'"):
        DomainShift.only("colour")
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        DomainShift(lighting=1.5)
    with pytest.raises(ValidationError):
        DomainShift(blur=0.0)


def test_a_scene_factor_leaves_the_persons_own_pixels_as_they_were():
    """The background's draws (indoor or outdoor, clutter) come from its own stream: the person's level,
    drawn by the lighting stream, does not move when only the background changes."""
    for k in SEEDS:
        base, joints, occluded = _render(DomainShift.none(), k)
        image, _, _ = _render(DomainShift.only("background"), k)
        px = np.floor(joints[~occluded & (joints[:, 0] >= 0)] + 0.5).astype(int)
        np.testing.assert_array_equal(image[px[:, 1], px[:, 0]], base[px[:, 1], px[:, 0]])


def test_a_tightly_framed_target_narrower_than_30_px_still_gets_a_background():
    """Framing alone can crop a frame to a few dozen pixels; the indoor background drew shapes 15 px to w/2."""
    for seed in range(20):
        image = source_background(np.random.default_rng(seed), (22, 18))
        assert image.shape == (22, 18, 3) and np.isfinite(image).all()
