"""The seed-0 demo's files are the same as those written before data_pipeline/procedural.py became the
data_pipeline/demo/ package (issue 23): a refactor of the generator must not move one pixel or one joint.

The expected SHA-256 digests below were recorded from the unchanged generator at commit 5df5026 (main,
`data_pipeline/procedural.py`), with numpy 2.4.6, scipy 1.17.1 and opencv-python-headless 5.1.0.95 (video
fourcc "mp4v"), by running `_digests` on the two sets `written` writes. What each digest covers:
- `.mat`: the file's bytes after its 116-byte text header (the header holds the platform and a timestamp);
- `.mp4`: the decoded frames (RGB uint8, in order), not the container's bytes, which name the muxer;
- anything else (`.jpg`, `.json`): the file's bytes.
JPEG and video bytes depend on the OpenCV build's encoders, so their digests are checked only on the OpenCV
version and fourcc they were recorded with; every other file is checked everywhere.

To re-record after an intended change of the demo: print `_digests(...)` for both sets and paste them here,
saying in the commit why the demo changed.
"""

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from data_pipeline.demo import video_fourcc, write_demo
from data_pipeline.shift import DomainShift

RECORDED_WITH = {"opencv": "5.1.0", "fourcc": "mp4v"}
ENCODED = (".jpg", ".mp4")  # digests that depend on the OpenCV build's encoders
SHIFT = DomainShift(lighting=0.5, background=0.0, texture=1.0, occluders=1.0, degradation=0.25, framing=0.75)

EXPECTED = {
    "default": {
        "lsp/images/im0001.jpg": "49496f37e178471e9a1743ae2343c0efa67e641f61141c3994fe4e80254b6b78",
        "lsp/images/im0002.jpg": "2032f0747f1513cfa11fb3b8159da035c3f56f3c02e285210b0f4737d9193e42",
        "lsp/images/im0003.jpg": "1ae0814678b0e2252dd1c115f0b3c38779fad3f1bb8899cf1bac277e6bd9e6b8",
        "lsp/images/im0004.jpg": "6371f2b6babfe02b7976dcbafd47deff51a0a610557b4c0daa9bfb3159611f42",
        "lsp/joints.mat": "160beaa9e77bfc754ba14ae9611ba6ce8a97a25f7f9519f0b823748a042db5dc",
        "lsp/posetune-demo.json": "aa859046148e1a64bae0f87c103973cbe35f30296c70f72ef90977b384ea1b58",
        "lsp/splits.json": "81379833cb8af11e05cfa6864bc1de55ec967ae1fef47a9bb27d9bc2e7c41dca",
        "surreal/cmu/test/run0/02_01/02_01_c0001.mp4": "b94b986949fb86313e66d4e6138e9bfb08daa709836023cdc0d9d3913536f490",
        "surreal/cmu/test/run0/02_01/02_01_c0001_info.mat": "6e12dc9f8fbb890eed5856d3b86bbec9bacb888a851069bd595eeab50e6093f1",
        "surreal/cmu/test/run0/02_01/02_01_c0001_segm.mat": "7d12282393fa8622797a94450d23e9037ff9fa1272ee572a3b9a5cd31bd5ed62",
        "surreal/cmu/train/run0/01_01/01_01_c0001.mp4": "6e601261b663260114cbdd2394fff02c439b8b09ad946ef0e4fe7416712af6ae",
        "surreal/cmu/train/run0/01_01/01_01_c0001_info.mat": "9ff2f180a1ded92e1b64a27000cd1b653a49956c734ba01b4a250d17e4584e64",
        "surreal/cmu/train/run0/01_01/01_01_c0001_segm.mat": "5c2e18174c79235e5ded25b64ff2aa16c5d4849614acc825c24225b6319b1dd5",
        "surreal/cmu/val/run0/01_01/01_01_c0002.mp4": "758ad4aab1b0cf8450eea086aa453ed31ded0ec407df943c9f8a95dcb73cf2c8",
        "surreal/cmu/val/run0/01_01/01_01_c0002_info.mat": "79f3c37ee5c42d68ca9ae21c1e6d0e6903ee80b280ab788f7ea1f7d2ee2a3736",
        "surreal/cmu/val/run0/01_01/01_01_c0002_segm.mat": "91442f5c6d7a7138b93147259185901a1e364d6da8b92f4571e6a06a9b9bbd06",
        "surreal/posetune-demo.json": "aa859046148e1a64bae0f87c103973cbe35f30296c70f72ef90977b384ea1b58",
    },
    "shifted": {
        "lsp/images/im0001.jpg": "a8410f94ffa6bd1c402b0768681a888fabc2519e6f0faa94ce1026ec49310aaf",
        "lsp/images/im0002.jpg": "6ab5b35aa3d5a901dbbbb6f1e69b621b8b0481b38141358697c9d1e721169cf6",
        "lsp/images/im0003.jpg": "91da11e1830850006543422b5c5da7ebaee91c74d9c744a2254b90b870268f41",
        "lsp/joints.mat": "aaf2983a496652301189c9e28cfaf45a23cff655323d3cb1679979363feebbcf",
        "lsp/posetune-demo.json": "131840a9439f88eb74863ef7c180a6dea59277697ca77a0804f3f937c2d5fdfc",
        "lsp/splits.json": "ebcdc669a813b0069d13d9e4a80f15b947ce5ff432bd80c697e2d6991e5033e2",
        "surreal/cmu/train/run0/01_01/01_01_c0001.mp4": "05e1a9f82b5301be5925ab8ae907485b5047883433cec82f3232ff8629299b2b",
        "surreal/cmu/train/run0/01_01/01_01_c0001_info.mat": "7de760fc1e2bb43655dc9d4cd2a37e72c77ea7a4d133938812094052a8d5f3c8",
        "surreal/cmu/train/run0/01_01/01_01_c0001_segm.mat": "e08ed2b48a3c0ea44f5f71e650b6ebaaaf25856e42b514a132ab4f734523fa18",
        "surreal/posetune-demo.json": "131840a9439f88eb74863ef7c180a6dea59277697ca77a0804f3f937c2d5fdfc",
    },
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The seed-0 demo at small sizes (every split non-empty), and one set at a non-default domain shift."""
    out = tmp_path_factory.mktemp("golden")
    write_demo(out / "default", clips=3, seed=0, frames=(2, 3), target_images=4)
    write_demo(out / "shifted", clips=1, seed=0, frames=(2, 2), target_images=3, shift=SHIFT)
    return out


def _digest(path: Path) -> str:
    if path.suffix == ".mat":
        return hashlib.sha256(path.read_bytes()[116:]).hexdigest()
    if path.suffix == ".mp4":
        capture, frames = cv2.VideoCapture(str(path)), hashlib.sha256()
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.update(np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)).tobytes())
        capture.release()
        return frames.hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): _digest(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_demo_files_as_recorded(written, name):
    got = _digests(written / name)
    assert sorted(got) == sorted(EXPECTED[name])  # the same files, no more, no fewer
    plain = {f: d for f, d in EXPECTED[name].items() if not f.endswith(ENCODED)}
    assert plain and {f: got[f] for f in plain} == plain


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_demo_images_and_videos_as_recorded(written, name):
    here = {"opencv": cv2.__version__, "fourcc": video_fourcc()}
    if here != RECORDED_WITH:
        pytest.skip(f"JPEG/video digests were recorded with {RECORDED_WITH}, this is {here}")
    got = _digests(written / name)
    encoded = {f: d for f, d in EXPECTED[name].items() if f.endswith(ENCODED)}
    assert encoded and {f: got[f] for f in encoded} == encoded
