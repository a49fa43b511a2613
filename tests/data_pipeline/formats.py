"""Write small COCO and MPII target sets in their exact on-disk formats, from the procedural demo's
real-looking people (so the readers, the enhancement job and a search all see files as users have them)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import scipy.io

from data_pipeline.demo import render_target
from data_pipeline.joints import COCO17, LSP14, LSP14_INDEX, MPII16


def _people(n: int, seed: int):
    for i in range(n):
        yield i, *render_target(np.random.default_rng([seed, 5, i]))


def write_coco(root: Path, n: int = 12, seed: int = 0) -> tuple[Path, Path]:
    """person_keypoints_val2017.json (v = 2 visible, 1 occluded, 0 for the face joints LSP lacks) and
    its images/; returns (annotations, image_dir)."""
    images_dir = root / "val2017"
    images_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i, image, joints, occluded in _people(n, seed):
        name = f"{i + 1:012d}.jpg"
        cv2.imwrite(str(images_dir / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        keypoints = np.zeros((17, 3))
        for k, coco_name in enumerate(COCO17):
            if coco_name in LSP14_INDEX:
                j = LSP14_INDEX[coco_name]
                keypoints[k] = (*joints[j], 1 if occluded[j] else 2)
        h, w = image.shape[:2]
        images.append({"id": i + 1, "file_name": name, "height": h, "width": w})
        annotations.append(
            {
                "id": 1000 + i,
                "image_id": i + 1,
                "category_id": 1,
                "iscrowd": 0,
                "num_keypoints": int((keypoints[:, 2] > 0).sum()),
                "keypoints": keypoints.reshape(-1).round(2).tolist(),
                "bbox": [0, 0, w, h],
                "area": float(w * h),
                "segmentation": {"counts": "", "size": [h, w]},  # RLE: the reader gives no mask
            }
        )
    path = root / "annotations" / "person_keypoints_val2017.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": [{"id": 1}]}))
    return path, images_dir


def write_mpii(root: Path, n: int = 12, seed: int = 0) -> tuple[Path, Path, Path, np.ndarray]:
    """annot/valid.json of the common JSON conversion (1-based joints, joints_vis, center, scale),
    annot/gt_valid.mat with headboxes_src (2, 2, N), and images/; returns (json, image_dir, mat, head
    boxes (N, 2, 2) 0-based)."""
    images_dir = root / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    entries, boxes = [], []
    mpii_of = {name: k for k, name in enumerate(MPII16)}
    for i, image, joints, _ in _people(n, seed):
        name = f"{i:09d}.jpg"
        cv2.imwrite(str(images_dir / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        mpii = np.zeros((16, 2))
        vis = np.zeros(16)
        for j, lsp_name in enumerate(LSP14):
            k = mpii_of["upper_neck" if lsp_name == "neck" else lsp_name]
            mpii[k], vis[k] = joints[j], 1
        mpii[mpii_of["pelvis"]] = joints[[2, 3]].mean(0)
        mpii[mpii_of["thorax"]] = joints[[8, 9]].mean(0)
        vis[[mpii_of["pelvis"], mpii_of["thorax"]]] = 1
        if i == 0:
            vis[mpii_of["left_ankle"]] = 0  # not annotated: the conversion writes zeros
            mpii[mpii_of["left_ankle"]] = -1
        top, neck = joints[LSP14_INDEX["head_top"]], joints[LSP14_INDEX["neck"]]
        half = 0.6 * np.linalg.norm(top - neck)
        centre = (top + neck) / 2
        boxes.append([centre - half, centre + half])
        entries.append(
            {
                "image": name,
                "joints": (mpii + 1).round(2).tolist(),  # MATLAB's 1-based pixels
                "joints_vis": vis.astype(int).tolist(),
                "center": (joints.mean(0) + 1).round(2).tolist(),
                "scale": float(np.ptp(joints[:, 1]) / 200),
            }
        )
    annot = root / "annot"
    annot.mkdir(parents=True, exist_ok=True)
    (annot / "valid.json").write_text(json.dumps(entries))
    boxes = np.asarray(boxes)  # (N, corner, xy), 0-based
    scipy.io.savemat(annot / "gt_valid.mat", {"headboxes_src": (boxes + 1).transpose(1, 2, 0)})
    return annot / "valid.json", images_dir, annot / "gt_valid.mat", boxes
