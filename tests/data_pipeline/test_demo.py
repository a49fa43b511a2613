"""The demo generator: determinism, sizes and splits, and the two domains looking different."""

import json

import cv2
import numpy as np
import scipy.io

from data_pipeline.demo import write_demo
from data_pipeline.readers import read_lsp, read_surreal


def _contents(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_files_other_seed_other_people(tmp_path):
    a = write_demo(tmp_path / "a", clips=1, seed=3, frames=(2, 3), target_images=3)
    write_demo(tmp_path / "b", clips=1, seed=3, frames=(2, 3), target_images=3)
    write_demo(tmp_path / "c", clips=1, seed=4, frames=(2, 3), target_images=3)
    files_a, files_b = _contents(tmp_path / "a"), _contents(tmp_path / "b")
    assert files_a.keys() == files_b.keys()
    for name, data in files_a.items():
        if name.suffix in (".jpg", ".json"):
            assert data == files_b[name], name
    for name in files_a:
        if name.suffix == ".mat":  # the .mat header holds a timestamp: compare the variables
            va, vb = scipy.io.loadmat(tmp_path / "a" / name), scipy.io.loadmat(tmp_path / "b" / name)
            for key in (k for k in va if not k.startswith("__")):
                np.testing.assert_array_equal(va[key], vb[key])
    lsp_a = scipy.io.loadmat(tmp_path / "a/lsp/joints.mat")["joints"]
    lsp_c = scipy.io.loadmat(tmp_path / "c/lsp/joints.mat")["joints"]
    assert not np.allclose(lsp_a, lsp_c)
    assert a["clips"] == {"train": 1, "val": 0, "test": 0} and sum(a["target_images"].values()) == 3


def test_demo_layout_and_splits(demo):
    out, summary = demo
    assert summary["clips"] == {"train": 1, "val": 1, "test": 1}
    assert summary["target_images"] == {"adapt": 4, "val": 2, "test": 2}
    for split in ("train", "val", "test"):
        assert list((out / "surreal/cmu" / split / "run0").glob("*/*_c000[12].mp4"))
    splits = json.loads((out / "lsp/splits.json").read_text())
    assert sorted(sum(splits.values(), [])) == list(range(1, 9))


def test_domains_differ_in_framing_sizes_and_noise(demo):
    out, _ = demo
    source = [s for split in ("train", "val", "test") for s in read_surreal(out / "surreal", split)]
    target = list(read_lsp(out / "lsp"))

    def grain(image):  # median |Laplacian|: ~0 on clean flat renders, larger with sensor noise and JPEG
        return np.median(np.abs(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F)))

    def person_share(sample):  # joint extent relative to the image height: LSP crops around the person
        return np.ptp(sample.joints[sample.labelled, 1]) / sample.image.shape[0]

    assert {s.image.shape for s in source} == {(240, 320, 3)}
    assert len({s.image.shape for s in target}) > 1  # varied image sizes
    assert np.mean([person_share(s) for s in target]) > np.mean([person_share(s) for s in source])
    assert np.mean([grain(s.image) for s in target]) > 2 * np.mean([grain(s.image) for s in source])
