"""The Ray Data enhancement job on tiny demo data with a real local Ray."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from data_pipeline.demo import write_demo
from data_pipeline.errors import DataError
from data_pipeline.loader import AugmentConfig, ShardDataset
from data_pipeline.manifest import SHARDS_MANIFEST
from data_pipeline.pipeline import EnhanceJob, EnhanceSettings, parse_input, run_enhancement
from data_pipeline.readers import list_surreal_clips, read_lsp, read_surreal
from data_pipeline.schema import SHARD_SCHEMA, decode_image, decode_mask
from search.cli import main

pytestmark = pytest.mark.slow
QUIET = EnhanceJob(progress=False)


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    write_demo(root, clips=4, seed=3, frames=(4, 6), target_images=8)
    surreal = root / "surreal"
    corrupt = list_surreal_clips(surreal, "train")[0]
    with open(corrupt.video, "wb") as f:  # a truncated, undecodable video
        f.write(b"\x00\x00\x00\x18ftypmp42 not a video")
    return root, corrupt


@pytest.fixture(scope="module")
def enhanced(ray_local, demo, tmp_path_factory):
    root, _ = demo
    out = tmp_path_factory.mktemp("out") / "shards"
    context = ray_local.data.DataContext.get_current()
    before = context.op_resource_reservation_enabled
    manifest = run_enhancement(
        [f"surreal:{root / 'surreal'}"],
        [f"lsp:{root / 'lsp'}"],
        str(out),
        EnhanceSettings(size=64),
        job=EnhanceJob(
            progress=False, clips_per_task=2, images_per_task=3
        ),  # several tasks even on tiny data
    )
    # the job turns Ray Data's per-operator reservation off for itself only
    assert context.op_resource_reservation_enabled == before
    return out, manifest


def test_shards_have_the_documented_plain_arrow_schema(enhanced):
    out, _ = enhanced
    for domain in ("source", "target"):
        files = sorted((out / domain).glob("*.parquet"))
        assert files
        for path in files:
            schema = pq.read_schema(path)
            assert schema.remove_metadata().equals(SHARD_SCHEMA.remove_metadata()), path
    table = pads.dataset(out / "source").to_table()
    image = decode_image(table.column("image")[0].as_py())
    mask = decode_mask(table.column("mask")[0].as_py())
    assert image.shape == (64, 64, 3) and mask.shape == (64, 64) and mask.any()
    assert all(table.column("brightness_centred").to_pylist())
    assert set(table.column("domain").to_pylist()) == {"source"}
    assert pads.dataset(out / "target").to_table(columns=["mask"]).column("mask").null_count > 0


def test_manifest_accounts_for_every_input_and_the_corrupt_clip(enhanced, demo):
    out, manifest = enhanced
    root, corrupt = demo
    assert manifest == json.loads((out / SHARDS_MANIFEST).read_text())
    skipped_by_reader: list = []
    expected_source: dict[str, int] = {}
    for split in ("train", "val", "test"):
        n = sum(1 for _ in read_surreal(root / "surreal", split, skipped=skipped_by_reader))
        if n:
            expected_source[split] = n
    expected_target: dict[str, int] = {}
    for sample in read_lsp(root / "lsp"):
        expected_target[sample.split] = expected_target.get(sample.split, 0) + 1
    assert manifest["counts"]["source"] == expected_source
    assert manifest["counts"]["target"] == expected_target

    clips = sum(len(list_surreal_clips(root / "surreal", s)) for s in ("train", "val", "test"))
    source = manifest["inputs"][f"surreal:{root / 'surreal'}"]
    assert source == {
        "units": "clips",
        "total": clips,
        "ok": clips - 1,
        "skipped": 1,
        "unassigned": 0,
        "samples_written": sum(expected_source.values()),
    }
    target = manifest["inputs"][f"lsp:{root / 'lsp'}"]
    assert target["total"] == target["ok"] == sum(expected_target.values())
    [skip] = manifest["skipped"]
    assert skip["path"] == corrupt.video and skip["reason"]
    assert [p for p, _ in skipped_by_reader] == [corrupt.video]
    assert manifest["settings"]["size"] == 64 and manifest["versions"]["ray"]


def test_the_loader_reads_the_job_output_back(enhanced):
    out, manifest = enhanced
    ds = ShardDataset(str(out), "source", "train", 32, augment=AugmentConfig(occlusion_prob=1.0), seed=0)
    assert len(ds) == manifest["counts"]["source"]["train"]
    item = ds[0]
    assert item["image"].shape == (32, 32, 3) and item["joints"].shape == (14, 2)
    target = ShardDataset(str(out), "target", "val", 64)
    assert np.isfinite(target[0]["joints"]).all()


def test_existing_output_is_refused_then_replaced_with_overwrite(enhanced, demo, capsys):
    out, _ = enhanced
    root, _ = demo
    before = (out / SHARDS_MANIFEST).read_text()
    with pytest.raises(DataError, match="already exists"):
        run_enhancement([], [f"lsp:{root / 'lsp'}"], str(out), EnhanceSettings(size=64), job=QUIET)
    argv = ["data", "enhance", "--target", f"lsp:{root / 'lsp'}", "--out", str(out), "--size", "48"]
    assert main(argv) == 2  # the CLI prints the error as one line
    assert "already exists" in capsys.readouterr().err
    assert (out / SHARDS_MANIFEST).read_text() == before
    assert main([*argv, "--overwrite", "--no-brightness"]) == 0
    replaced = json.loads((out / SHARDS_MANIFEST).read_text())
    assert replaced["settings"]["size"] == 48 and not (out / "source").exists()
    assert os.listdir(out.parent) == ["shards"]  # no temporary output or ledger left behind


def test_input_specs_are_checked():
    assert parse_input("coco:a.json:imgs").paths == ("a.json", "imgs")
    assert parse_input("coco:a.json:imgs:s.json").paths == ("a.json", "imgs", "s.json")
    assert parse_input("mpii:valid.json:images:gt_valid.mat", "target").kind == "mpii"
    with pytest.raises(ValueError, match=r"mpii:ANNOTATIONS.json:IMAGE_DIR\[:HEAD_BOXES.mat\]"):
        parse_input("mpii:valid.json", "target")
    with pytest.raises(ValueError, match="surreal"):
        parse_input("lsp:/x", "source")
    with pytest.raises(ValueError, match="coco"):
        parse_input("coco:a.json", "target")


def test_a_corrupt_target_image_is_reported_and_the_job_goes_on(ray_local, demo, tmp_path):
    import shutil

    root, _ = demo
    lsp = tmp_path / "lsp"
    shutil.copytree(root / "lsp", lsp)
    bad = lsp / "images" / "im0005.jpg"
    bad.write_bytes(b"not a jpeg")
    manifest = run_enhancement([], [f"lsp:{lsp}"], str(tmp_path / "out"), EnhanceSettings(size=32), job=QUIET)
    assert [s["path"] for s in manifest["skipped"]] == [str(bad)]
    assert "cannot be decoded" in manifest["skipped"][0]["reason"]
    report = manifest["inputs"][f"lsp:{lsp}"]
    assert report == {
        "units": "images",
        "total": 8,
        "ok": 7,
        "skipped": 1,
        "unassigned": 0,
        "samples_written": 7,
    }
    assert sum(manifest["counts"]["target"].values()) == 7  # every image but the bad one, before and after it


def test_a_coco_target_set_is_spread_over_tasks_and_a_missing_image_is_reported(ray_local, tmp_path):
    from tests.data_pipeline.test_lsp_coco import _coco_file

    annotations = _coco_file(tmp_path)  # image 1: one person with a polygon; image 2: one with RLE (no mask)
    missing = tmp_path / "img" / "000003.jpg"
    data = json.loads(annotations.read_text())
    data["images"].append({"id": 3, "file_name": missing.name})
    data["annotations"].append({**data["annotations"][0], "id": 14, "image_id": 3})
    annotations.write_text(json.dumps(data))
    spec = f"coco:{annotations}:{tmp_path / 'img'}"
    manifest = run_enhancement(
        [],
        [spec],
        str(tmp_path / "out"),
        EnhanceSettings(size=32),
        job=EnhanceJob(progress=False, images_per_task=1),
    )
    assert manifest["inputs"][spec] == {
        "units": "images",
        "total": 3,
        "ok": 2,
        "skipped": 1,
        "unassigned": 0,
        "samples_written": 2,
    }
    assert manifest["skipped"] == [
        {"path": str(missing), "input": spec, "reason": "image is missing or cannot be decoded"}
    ]
    table = pads.dataset(tmp_path / "out" / "target").to_table()
    assert sorted(table.column("sample_id").to_pylist()) == ["coco/1/11", "coco/2/13"]
    assert set(table.column("split").to_pylist()) <= {"adapt", "val", "test"}


def test_coco_and_mpii_targets_get_splits_head_sizes_and_left_out_lsp_images_are_reported(
    ray_local, demo, tmp_path
):
    import shutil

    from tests.data_pipeline.formats import write_coco, write_mpii

    root, _ = demo
    lsp = tmp_path / "lsp"
    shutil.copytree(root / "lsp", lsp)
    (lsp / "splits.json").write_text(json.dumps({"adapt": [1, 2, 3], "val": [4, 5], "test": [6, 7]}))
    coco, coco_images = write_coco(tmp_path / "coco", n=8)
    mpii, mpii_images, head_boxes, boxes = write_mpii(tmp_path / "mpii", n=8)
    specs = [f"lsp:{lsp}", f"coco:{coco}:{coco_images}", f"mpii:{mpii}:{mpii_images}:{head_boxes}"]
    manifest = run_enhancement([], specs, str(tmp_path / "out"), EnhanceSettings(size=64), job=QUIET)
    assert manifest["unassigned"] == [{"path": str(lsp / "images" / "im0008.jpg"), "input": specs[0]}]
    assert manifest["inputs"][specs[0]]["unassigned"] == 1 and manifest["inputs"][specs[0]]["total"] == 7
    assert manifest["counts"]["target"] == {"adapt": 3 + 4 + 4, "test": 2 + 2 + 2, "val": 2 + 2 + 2}
    table = pads.dataset(tmp_path / "out" / "target").to_table()
    ids = table.column("sample_id").to_pylist()
    sizes = dict(zip(ids, table.column("head_size").to_pylist(), strict=True))
    assert all(sizes[i] is None for i in ids if not i.startswith("mpii/"))
    matrices = dict(zip(ids, table.column("crop_matrix").to_pylist(), strict=True))
    for k in range(8):
        (key,) = [i for i in ids if i.endswith(f"/{k}") and i.startswith("mpii/")]
        scale = np.sqrt(abs(np.linalg.det(np.reshape(matrices[key], (2, 3))[:, :2])))
        assert sizes[key] == pytest.approx(0.6 * np.linalg.norm(boxes[k, 1] - boxes[k, 0]) * scale, rel=1e-4)
    val = ShardDataset(str(tmp_path / "out"), "target", "val", 32)
    assert sum(np.isfinite(val[i]["head_size"]) for i in range(len(val))) == 2  # the MPII people in val


def test_an_unreadable_target_listing_is_reported_and_the_source_still_written(ray_local, demo, tmp_path):
    root, _ = demo
    lsp = tmp_path / "lsp"
    lsp.mkdir()
    (lsp / "joints.mat").write_bytes(b"not a mat file")
    manifest = run_enhancement(
        [f"surreal:{root / 'surreal'}"],
        [f"lsp:{lsp}"],
        str(tmp_path / "out"),
        EnhanceSettings(size=32),
        job=QUIET,
    )
    [target_skip] = [s for s in manifest["skipped"] if s["input"] == f"lsp:{lsp}"]
    assert target_skip["path"] == str(lsp / "joints.mat") and target_skip["reason"]
    assert manifest["counts"]["target"] == {} and sum(manifest["counts"]["source"].values()) > 0


def test_commit_without_directory_rename_copies_then_writes_the_manifest_last(tmp_path):
    import pyarrow.fs as pafs

    from data_pipeline.shards_output import commit as _commit

    # A SubTreeFileSystem is not a LocalFileSystem: the object-store branch (copy, seal, clean up) runs.
    fs = pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem())
    (tmp_path / ".out.tmp" / "source").mkdir(parents=True)
    (tmp_path / ".out.tmp" / "source" / "a.parquet").write_bytes(b"x")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stale.parquet").write_bytes(b"old")
    (tmp_path / "out" / SHARDS_MANIFEST).write_text('{"schema_version": 1}')  # shards posetune wrote
    with pytest.raises(DataError, match="not overwriting"):
        _commit(fs, ".out.tmp", "out", {"k": 1}, overwrite=False)
    _commit(fs, ".out.tmp", "out", {"k": 1}, overwrite=True)
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == sorted(
        ["a.parquet", SHARDS_MANIFEST, "source"]
    )
    assert json.loads((tmp_path / "out" / SHARDS_MANIFEST).read_text()) == {"k": 1}
    assert not (tmp_path / ".out.tmp").exists()


def test_enhance_from_the_command_line_with_relative_paths(ray_local, demo, tmp_path, monkeypatch):
    root, _ = demo
    monkeypatch.chdir(tmp_path)
    target = os.path.relpath(root / "lsp", tmp_path)
    assert main(["data", "enhance", "--target", f"lsp:{target}", "--out", "shards", "--size", "32"]) == 0
    manifest = json.loads((tmp_path / "shards" / SHARDS_MANIFEST).read_text())
    assert manifest["counts"]["target"] and not manifest["skipped"]
    assert ShardDataset("shards", "target", "val", 32).manifest == manifest
