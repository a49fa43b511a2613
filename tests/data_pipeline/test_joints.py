"""The joint mappings encode facts about the real datasets; each test says which."""

import numpy as np

from data_pipeline.joints import (
    COCO17,
    COCO17_TO_LSP14,
    FLIP_PAIRS,
    LSP14,
    LSP14_INDEX,
    MPII16,
    MPII16_TO_LSP14,
    SHARED_JOINTS,
    SKELETON,
    SMPL24,
    SMPL24_TO_LSP14,
    TORSO_PAIR,
    flip_joints,
    map_joints,
)


def test_every_mapping_has_one_entry_per_lsp_joint_and_valid_indices():
    for mapping, source in ((SMPL24_TO_LSP14, SMPL24), (COCO17_TO_LSP14, COCO17), (MPII16_TO_LSP14, MPII16)):
        assert mapping.shape == (len(LSP14),) and mapping.dtype == np.int64
        assert ((mapping >= -1) & (mapping < len(source))).all()
        used = mapping[mapping >= 0]
        assert len(set(used.tolist())) == len(used), "a source joint is used twice"


def test_surreal_left_right_is_mirrored_smpl_left_is_the_persons_right():
    # SURREAL's render camera is a reflection: SMPL L_* joints are where annotators label the right side.
    assert SMPL24[SMPL24_TO_LSP14[LSP14_INDEX["right_ankle"]]] == "L_Ankle"
    assert SMPL24[SMPL24_TO_LSP14[LSP14_INDEX["right_hip"]]] == "L_Hip"
    assert SMPL24[SMPL24_TO_LSP14[LSP14_INDEX["right_wrist"]]] == "L_Wrist"
    assert SMPL24[SMPL24_TO_LSP14[LSP14_INDEX["left_elbow"]]] == "R_Elbow"


def test_surreal_shoulders_are_smpl_16_17_not_the_collar_bones():
    assert SMPL24_TO_LSP14[LSP14_INDEX["right_shoulder"]] == 16
    assert SMPL24_TO_LSP14[LSP14_INDEX["left_shoulder"]] == 17
    assert not {13, 14} & set(SMPL24_TO_LSP14.tolist())


def test_surreal_wrists_are_smpl_20_21_not_a_foot():
    # The study's code took SMPL 10 (L_Foot) where a wrist was meant.
    assert sorted(SMPL24_TO_LSP14[[LSP14_INDEX["right_wrist"], LSP14_INDEX["left_wrist"]]].tolist()) == [
        20,
        21,
    ]
    assert 10 not in SMPL24_TO_LSP14 and 11 not in SMPL24_TO_LSP14


def test_coco_keeps_names_and_has_no_neck_or_head_top():
    for lsp_index, name in enumerate(LSP14[:12]):
        assert COCO17[COCO17_TO_LSP14[lsp_index]] == name  # COCO is person-centric like LSP
    assert COCO17_TO_LSP14[LSP14_INDEX["neck"]] == -1 and COCO17_TO_LSP14[LSP14_INDEX["head_top"]] == -1


def test_mpii_maps_upper_neck_and_head_top():
    assert MPII16[MPII16_TO_LSP14[LSP14_INDEX["neck"]]] == "upper_neck"
    assert MPII16[MPII16_TO_LSP14[LSP14_INDEX["head_top"]]] == "head_top"
    assert MPII16[MPII16_TO_LSP14[LSP14_INDEX["left_wrist"]]] == "left_wrist"


def test_surreal_head_top_is_unlabelled_smpl_head_is_the_head_centre():
    # SMPL's Head joint is the head's centre, LSP's head-top the top of the skull: not the same label.
    assert SMPL24_TO_LSP14[LSP14_INDEX["head_top"]] == -1
    assert 15 not in SMPL24_TO_LSP14.tolist()
    assert LSP14_INDEX["head_top"] not in SHARED_JOINTS
    assert all(SMPL24_TO_LSP14[j] >= 0 for j in SHARED_JOINTS)


def test_map_joints_marks_missing_joints_unlabelled_in_every_mask():
    coco = np.arange(17 * 2, dtype=np.float32).reshape(17, 2)
    labelled_in, visible_in = np.ones(17, bool), np.arange(17) % 2 == 0
    joints, labelled, visible = map_joints(coco, COCO17_TO_LSP14, labelled_in, visible_in)
    assert joints.shape == (14, 2) and labelled.shape == visible.shape == (14,)
    np.testing.assert_array_equal(joints[LSP14_INDEX["left_wrist"]], coco[COCO17.index("left_wrist")])
    assert not labelled[LSP14_INDEX["neck"]] and labelled[:12].all()
    assert visible[LSP14_INDEX["left_wrist"]] == visible_in[COCO17.index("left_wrist")]


def test_flip_pairs_are_left_right_partners_and_flip_is_an_involution():
    for a, b in FLIP_PAIRS:
        assert LSP14[a].replace("right", "left") == LSP14[b]
    joints = np.random.default_rng(0).uniform(0, 99, (14, 2)).astype(np.float32)
    visible = np.arange(14) % 3 > 0
    once, vis_once = flip_joints(joints, 100, visible)
    np.testing.assert_allclose(once[LSP14_INDEX["left_wrist"], 0], 99 - joints[LSP14_INDEX["right_wrist"], 0])
    twice, vis_twice = flip_joints(once, 100, vis_once)
    np.testing.assert_allclose(twice, joints, atol=1e-4)
    np.testing.assert_array_equal(vis_twice, visible)


def test_torso_pair_and_skeleton_use_valid_joints():
    assert LSP14[TORSO_PAIR[0]] == "left_shoulder" and LSP14[TORSO_PAIR[1]] == "right_hip"
    assert all(0 <= a < 14 and 0 <= b < 14 for a, b in SKELETON)
