"""The seed-0 demo's files are the same as those written before data_pipeline/procedural.py became the
data_pipeline/demo/ package (issue 23): a refactor of the generator must not move one pixel or one joint.

The expected SHA-256 digests below were recorded from the unchanged generator at commit 5df5026 (main,
`data_pipeline/procedural.py`), with numpy 2.4.6, scipy 1.17.1 and opencv-python-headless 5.1.0.95 (video
fourcc "mp4v"), by running `_digests` on the two sets `written` writes. What each digest covers:
- `.mat`: each variable as scipy.io.loadmat reads it (name, dtype, shape, values), floating-point values rounded
  to 1e-6: numpy's float64 maths (sin, cos, arccos) differs in the last bits between CPUs' SIMD paths, so the
  raw bytes of `_info.mat` differ between machines (first seen as a failure on an AVX-512 machine) while every
  joint, pose and camera value agrees to 1e-12;
- `.mp4`: the decoded frames (RGB uint8, in order), not the container's bytes, which name the muxer;
- anything else (`.jpg`, `.json`): the file's bytes.
JPEG and video bytes depend on the OpenCV build's encoders, so their digests are checked only on the OpenCV
version and fourcc they were recorded with; every other file is checked everywhere.

The `.mat` digests were re-recorded in that form after the generator at 5df5026 and today's were shown to
write byte-identical files on the same machine.

To re-record after an intended change of the demo: print `_digests(...)` for both sets and paste them here,
saying in the commit why the demo changed.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

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
        "lsp/joints.mat": "67fec0ac3c08ce72d3f095c98ed8eefce1d42d9ece620d429e661d6a65ea7ed2",
        "lsp/posetune-demo.json": "aa859046148e1a64bae0f87c103973cbe35f30296c70f72ef90977b384ea1b58",
        "lsp/splits.json": "81379833cb8af11e05cfa6864bc1de55ec967ae1fef47a9bb27d9bc2e7c41dca",
        "surreal/cmu/test/run0/02_01/02_01_c0001.mp4": "b94b986949fb86313e66d4e6138e9bfb08daa709836023cdc0d9d3913536f490",
        "surreal/cmu/test/run0/02_01/02_01_c0001_info.mat": "96a0a48b03e50f706e0449e03e164c15e9bdfe27e1f9968a05e03728004bd030",
        "surreal/cmu/test/run0/02_01/02_01_c0001_segm.mat": "9f82219ba0bb3b6f2da3edf3e31eb8e83f926fdcd70dedbd2d5fa733d54119b7",
        "surreal/cmu/train/run0/01_01/01_01_c0001.mp4": "6e601261b663260114cbdd2394fff02c439b8b09ad946ef0e4fe7416712af6ae",
        "surreal/cmu/train/run0/01_01/01_01_c0001_info.mat": "cc216cbd083906872e2dccd02660dce6a0cfbd2bb027c12a8260df57bf2bbe6a",
        "surreal/cmu/train/run0/01_01/01_01_c0001_segm.mat": "dc314435ac863f7f084f2451666a684603b4a7ae82b27364009fd5e1af14501c",
        "surreal/cmu/val/run0/01_01/01_01_c0002.mp4": "758ad4aab1b0cf8450eea086aa453ed31ded0ec407df943c9f8a95dcb73cf2c8",
        "surreal/cmu/val/run0/01_01/01_01_c0002_info.mat": "bb741be2bdf56b2e6a3ab4111a23ccd583170fcafab19c51533682e68dd24351",
        "surreal/cmu/val/run0/01_01/01_01_c0002_segm.mat": "ee9aa297591fb5206aa68acdec61331ead0ed9b060d69c9963d38d63ff6b772d",
        "surreal/posetune-demo.json": "aa859046148e1a64bae0f87c103973cbe35f30296c70f72ef90977b384ea1b58",
    },
    "shifted": {
        "lsp/images/im0001.jpg": "a8410f94ffa6bd1c402b0768681a888fabc2519e6f0faa94ce1026ec49310aaf",
        "lsp/images/im0002.jpg": "6ab5b35aa3d5a901dbbbb6f1e69b621b8b0481b38141358697c9d1e721169cf6",
        "lsp/images/im0003.jpg": "91da11e1830850006543422b5c5da7ebaee91c74d9c744a2254b90b870268f41",
        "lsp/joints.mat": "4c7c977cd8f27bbd0d7c749250d735d9d139e7b93088b6021ab9f42569227775",
        "lsp/posetune-demo.json": "131840a9439f88eb74863ef7c180a6dea59277697ca77a0804f3f937c2d5fdfc",
        "lsp/splits.json": "ebcdc669a813b0069d13d9e4a80f15b947ce5ff432bd80c697e2d6991e5033e2",
        "surreal/cmu/train/run0/01_01/01_01_c0001.mp4": "05e1a9f82b5301be5925ab8ae907485b5047883433cec82f3232ff8629299b2b",
        "surreal/cmu/train/run0/01_01/01_01_c0001_info.mat": "aebac381aad1c4629c46b32494c6e9ce178be0802403719e32c68ecc98e92840",
        "surreal/cmu/train/run0/01_01/01_01_c0001_segm.mat": "e5a550648884d9f5b5c26da034f6cf964e4d6f0147bdca6d448f49b9ddfe1720",
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
        return _mat_digest(path)
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


def _mat_digest(path: Path) -> str:
    """A digest of a .mat file's variables that does not depend on the CPU's last floating-point bits."""
    digest = hashlib.sha256()
    for name, value in sorted(scipy.io.loadmat(path).items()):
        if name.startswith("__"):  # the header, globals: platform and timestamp
            continue
        array = np.asarray(value)
        if array.dtype.kind == "f":
            array = np.round(array.astype(np.float64), 6) + 0.0  # + 0.0 turns -0.0 into 0.0
        elif array.dtype.kind == "O":
            array = np.array([str(np.asarray(v).squeeze()) for v in array.ravel()])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


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


def test_demo_files_as_recorded_on_another_simd_path(tmp_path):
    """The same digests from a demo written with numpy's AVX-512 kernels switched off: what differs between
    CPUs is not the demo (the raw `_info.mat` bytes do differ between these two runs)."""
    avx512 = [f for f in ("X86_V4", "AVX512_ICL", "AVX512_SPR") if np._core._multiarray_umath.__cpu_features__.get(f)]
    if not avx512:
        pytest.skip("this CPU has no AVX-512 kernels to switch off")
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(avx512)}
    script = (
        "import sys; from pathlib import Path; from data_pipeline.demo import write_demo; "
        "write_demo(Path(sys.argv[1]), clips=3, seed=0, frames=(2, 3), target_images=4)"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "default")], env=env, check=True)
    got = _digests(tmp_path / "default")
    plain = {f: d for f, d in EXPECTED["default"].items() if not f.endswith(ENCODED)}
    assert {f: got[f] for f in plain} == plain
