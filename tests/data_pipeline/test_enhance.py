"""The enhancement operations' maths, on small hand-made arrays."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from data_pipeline.enhance import (
    BRIGHTNESS_STEPS,
    affine_matrix,
    brightness_mode,
    center_brightness,
    crop_around_person,
    flip,
    occlude,
    reinhard_transfer,
    warp,
)
from data_pipeline.joints import FLIP_PAIRS


def test_brightness_follows_equations_1_and_2():
    image = np.zeros((2, 3, 3), np.uint8)
    image[:] = (100, 110, 120)  # background: (R+G+B)/3 = 110
    mask = np.zeros((2, 3), bool)
    mask[0, 0] = mask[1, 2] = True
    image[0, 0] = (10, 20, 30)  # person mean of (R+G+B)/3: (20 + 50) / 2 = 35
    image[1, 2] = (40, 50, 60)
    out = center_brightness(image, mask)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0], (85, 95, 105))  # + (110 - 35)
    np.testing.assert_array_equal(out[1, 2], (115, 125, 135))
    np.testing.assert_array_equal(out[~mask], image[~mask])  # background untouched


def test_brightness_clips_and_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    mask = np.zeros((40, 50), bool)
    mask[10:30, 20:35] = True
    image[~mask] //= 8  # a dark background behind a person of every brightness
    b_person = image[mask].astype(np.float64).sum(axis=1).mean() / 3
    b_background = image[~mask].astype(np.float64).sum(axis=1).mean() / 3
    expected = np.clip(image[mask].astype(np.float64) - b_person + b_background, 0, 255)
    out = center_brightness(image, mask)
    assert np.abs(out[mask].astype(np.float64) - expected).max() <= 0.5 + 1e-9
    assert out[mask].min() == 0  # the shift is large and negative: clipped, not wrapped around
    after = out[mask].astype(np.float64).sum(axis=1).mean() / 3
    assert after < b_person


@pytest.mark.parametrize("fill", [False, True])
def test_brightness_without_person_or_background_is_unchanged(fill):
    image = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    mask = np.full((8, 8), fill)
    np.testing.assert_array_equal(center_brightness(image, mask), image)
    np.testing.assert_array_equal(center_brightness(image, None), image)


def _coordinate_image(height=100, width=120):
    """R = x, G = y: every pixel names where it came from."""
    ys, xs = np.mgrid[:height, :width]
    return np.stack([xs, ys, np.zeros_like(xs)], axis=-1).astype(np.uint8)


def test_occluder_is_copied_from_outside_the_person_and_updates_mask_and_joints():
    image = _coordinate_image()
    mask = np.zeros(image.shape[:2], bool)
    mask[30:70, 40:70] = True
    mask[50:70, 40:45] = False  # not a perfect rectangle
    image[mask, 2] = 255  # person pixels are marked in B
    joints = np.stack(np.meshgrid(np.arange(42, 70, 9), np.arange(32, 70, 12)), -1).reshape(-1, 2)[:14]
    joints = joints.astype(np.float32)
    visible = np.ones(14, bool)
    changed_any = False
    for seed in range(40):
        out, out_mask, out_vis = occlude(image, mask, joints, visible, np.random.default_rng(seed))
        changed = (out != image).any(axis=-1)
        if not changed.any():
            continue
        changed_any = True
        src_x, src_y = out[changed, 0].astype(int), out[changed, 1].astype(int)
        # never from a person pixel, nor from inside the person's box
        assert (out[changed, 2] == 0).all()
        inside_box = (src_x >= 40) & (src_x < 70) & (src_y >= 30) & (src_y < 70)
        assert not inside_box.any()
        # the pasted block is one rigid copy: a constant source offset
        ys, xs = np.nonzero(changed)
        assert len(set(src_x - xs)) == 1 and len(set(src_y - ys)) == 1
        assert not out_mask[changed].any() and (out_mask <= mask).all()
        # joints under the rectangle (its bounding box of changed pixels) are hidden, the others kept
        x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
        under = (joints[:, 0] >= x0) & (joints[:, 0] <= x1) & (joints[:, 1] >= y0) & (joints[:, 1] <= y1)
        np.testing.assert_array_equal(out_vis, visible & ~under)
    assert changed_any


def test_occlusion_falls_back_cleanly_when_no_background_region_fits():
    image = _coordinate_image(20, 20)
    mask = np.zeros((20, 20), bool)
    mask[1:19, 1:19] = True  # the person's box leaves a 1-pixel frame: no patch fits
    joints = np.full((14, 2), 10, np.float32)
    visible = np.ones(14, bool)
    out, out_mask, out_vis = occlude(image, mask, joints, visible, np.random.default_rng(0))
    np.testing.assert_array_equal(out, image)
    np.testing.assert_array_equal(out_mask, mask)
    np.testing.assert_array_equal(out_vis, visible)


def _dot_centroid(image: np.ndarray) -> np.ndarray:
    weights = image[..., 0].astype(np.float64)
    ys, xs = np.mgrid[: image.shape[0], : image.shape[1]]
    return np.array([(weights * xs).sum(), (weights * ys).sum()]) / weights.sum()


@pytest.mark.parametrize(("rotation", "scale"), [(0, 1.0), (25, 1.0), (-40, 1.3), (90, 0.8)])
def test_joints_follow_the_warp_to_within_half_a_pixel(rotation, scale):
    image = np.zeros((120, 160, 3), np.uint8)
    mask = np.zeros((120, 160), bool)
    mask[30:100, 60:100] = True
    joints = np.zeros((14, 2), np.float32)
    joints[:] = (80, 60)
    joints[3] = (71, 47)  # the dot
    image[47, 71] = 255
    visible = np.ones(14, bool)
    out, out_mask, out_joints, _, out_vis, matrix = crop_around_person(
        image, mask, joints, visible, visible, 96, 0.2, rotation_deg=rotation, scale=scale
    )
    assert out.shape == (96, 96, 3) and out_mask.dtype == bool and out_mask.any()
    assert np.linalg.norm(_dot_centroid(out) - out_joints[3]) < 0.5
    assert out_vis[3]


def test_crop_centres_the_person_and_hides_joints_that_leave_it():
    image = np.zeros((120, 160, 3), np.uint8)
    mask = np.zeros((120, 160), bool)
    mask[20:100, 40:80] = True  # box centre (59.5, 59.5), longer side 80
    joints = np.full((14, 2), (60, 60), np.float32)
    joints[0] = (150, 10)  # far from the person: outside the crop after the margin
    labelled = np.ones(14, bool)
    labelled[0] = False  # not part of the person box
    out, out_mask, out_joints, out_has, _, _ = crop_around_person(
        image, mask, joints, labelled, labelled, 64, 0.1
    )
    ys, xs = np.nonzero(out_mask)
    assert abs(ys.mean() - 31.5) < 1 and abs(xs.mean() - 31.5) < 1
    assert (ys.max() - ys.min() + 1) == pytest.approx(64 / 1.2, abs=1.5)
    joints[0] = (150, 10)
    labelled[0] = True
    visible = labelled.copy()
    visible[1] = False  # occluded: still labelled, still inside the crop
    _, _, out_joints, out_has, out_vis, _ = crop_around_person(
        image, mask, joints, labelled, visible, 64, 0.1, center=(60, 60)
    )
    assert out_joints[0, 0] > 64 and not out_has[0] and not out_vis[0]
    assert out_has[1] and not out_vis[1]


def test_the_person_box_holds_occluded_joints():
    """An occluded joint is part of the person: the crop must hold it (the old box used visible joints)."""
    image = np.zeros((200, 200, 3), np.uint8)
    joints = np.full((14, 2), (100, 100), np.float32)
    joints[0] = (100, 180)  # an occluded ankle far below the rest
    labelled = np.ones(14, bool)
    visible = labelled.copy()
    visible[0] = False
    _, _, out_joints, out_has, out_vis, _ = crop_around_person(
        image, None, joints, labelled, visible, 64, 0.1
    )
    assert out_has[0] and not out_vis[0]
    assert 0 <= out_joints[0, 1] < 64


def test_flip_swaps_left_and_right():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    mask = rng.random((10, 12)) > 0.5
    joints = rng.uniform(0, 11, (14, 2)).astype(np.float32)
    labelled = rng.random(14) > 0.2
    visible = labelled & (rng.random(14) > 0.3)
    out, out_mask, out_joints, out_has, out_vis = flip(image, mask, joints, labelled, visible)
    np.testing.assert_array_equal(out, image[:, ::-1])
    np.testing.assert_array_equal(out_mask, mask[:, ::-1])
    for left, right in FLIP_PAIRS:
        np.testing.assert_allclose(out_joints[left], (11 - joints[right, 0], joints[right, 1]))
        np.testing.assert_allclose(out_joints[right], (11 - joints[left, 0], joints[left, 1]))
        assert out_vis[left] == visible[right] and out_vis[right] == visible[left]
        assert out_has[left] == labelled[right] and out_has[right] == labelled[left]
    back = flip(*flip(image, mask, joints, labelled, visible))
    np.testing.assert_allclose(back[2], joints, atol=1e-5)


def test_flip_inside_the_warp_equals_warp_then_flip():
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (50, 60, 3), dtype=np.uint8)
    joints = rng.uniform(10, 40, (14, 2)).astype(np.float32)
    visible = np.ones(14, bool)
    plain = affine_matrix((30, 25), 40, 32, rotation_deg=15, scale=1.1)
    mirrored = affine_matrix((30, 25), 40, 32, rotation_deg=15, scale=1.1, flip=True)
    a = flip(*warp(image, None, joints, visible, visible, plain, 32))
    b = warp(image, None, joints, visible, visible, mirrored, 32, flipped=True)
    assert np.abs(a[0].astype(int) - b[0].astype(int)).max() <= 1
    np.testing.assert_allclose(a[2], b[2], atol=1e-4)
    np.testing.assert_array_equal(a[3], b[3])
    np.testing.assert_array_equal(a[4], b[4])


@pytest.mark.parametrize(("side", "rotation"), [(200, 0), (150, 25), (300, -40)])
def test_a_shrinking_warp_keeps_a_blob_where_its_joint_lands(side, rotation):
    """The area pre-filter of a shrinking warp keeps the geometry exact: a smooth blob's centroid stays on
    its warped joint."""
    ys, xs = np.mgrid[:120, :160]
    image = np.zeros((120, 160, 3), np.uint8)
    image[..., 0] = (255 * np.exp(-((xs - 71.3) ** 2 + (ys - 47.8) ** 2) / 18)).astype(np.uint8)
    joints = np.tile(np.float32([71.3, 47.8]), (14, 1))
    ones = np.ones(14, bool)
    matrix = affine_matrix((80, 60), side, 64, rotation)
    out, _, points, _, _ = warp(image, None, joints, ones, ones, matrix, 64)
    assert np.linalg.norm(_dot_centroid(out) - points[0]) < 0.05


def _lab_stats(image, pixels):
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[pixels]
    return lab.mean(axis=0), lab.std(axis=0)


def test_reinhard_maps_the_persons_lab_mean_and_std_onto_the_backgrounds():
    rng = np.random.default_rng(1)
    image = np.empty((60, 80, 3), np.uint8)
    grey = rng.integers(70, 190, (60, 80, 1))  # a varied, mid-grey, slightly coloured background (in gamut)
    image[:] = grey + rng.integers(-8, 9, (60, 80, 3))
    mask = np.zeros((60, 80), bool)
    mask[15:50, 30:55] = True
    image[mask] = rng.normal((150, 80, 60), (12, 6, 4), (int(mask.sum()), 3)).clip(0, 255)  # a reddish person
    out = reinhard_transfer(image, mask)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[~mask], image[~mask])  # the background is never touched
    mean_b, std_b = _lab_stats(image, ~mask)
    mean_before, _ = _lab_stats(image, mask)
    mean_after, std_after = _lab_stats(out, mask)
    assert np.abs(mean_before - mean_b).max() > 10  # a real difference to close
    np.testing.assert_allclose(mean_after, mean_b, atol=0.6)  # uint8 rounding: well under 1 Lab unit
    np.testing.assert_allclose(std_after, std_b, rtol=0.05)
    # the study's mean centring moves (R+G+B)/3 only: the colour cast stays
    centred_mean, _ = _lab_stats(center_brightness(image, mask), mask)
    assert np.abs(centred_mean[1:] - mean_b[1:]).max() > 5


def test_reinhard_leaves_images_without_a_person_or_background_alone():
    image = np.random.default_rng(2).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    for mask in (None, np.zeros((10, 12), bool), np.ones((10, 12), bool)):
        np.testing.assert_array_equal(reinhard_transfer(image, mask), image)


def test_brightness_steps_by_name_and_the_older_booleans():
    assert set(BRIGHTNESS_STEPS) == {"none", "mean", "reinhard"}
    assert brightness_mode(True) == "mean" and brightness_mode(False) == "none"
    assert brightness_mode("reinhard") == "reinhard"
    for bad in ("lab", 1, None):
        with pytest.raises(ValueError, match="is not a brightness step: use one of none, mean, reinhard"):
            brightness_mode(bad)
