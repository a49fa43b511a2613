"""Bad input gets one line, `posetune: error: <file or key>: <problem>`, and exit code 2; nothing a user
already has is overwritten or deleted (outputs never replace inputs, `--overwrite` replaces only what
posetune wrote). No Ray here: every refusal comes before anything starts."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from models.export import save_exported
from models.hourglass import HourglassConfig, StackedHourglass
from models.train import TrainConfig
from search.cli import main


def _one_error_line(capsys, *names: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    line = err[0]
    assert line.startswith("posetune: error: "), line
    for name in names:
        assert str(name) in line, (name, line)
    return line


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    config = TrainConfig(
        model=HourglassConfig(num_stacks=1, num_features=16, depth=2, num_joints=14, input_size=32),
        channels_last=False,
    )
    path = tmp_path_factory.mktemp("model") / "best.pt"
    return save_exported(path, StackedHourglass(config.model), config, metrics={"target_val_pdj20": 0.1})


def _image(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.random.default_rng(seed).integers(0, 255, (48, 40, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), image)
    return path


# ------------------------------------------------------------------------------------------- predict


def test_predict_works_on_a_good_model_and_image(model_file, tmp_path):
    picture = _image(tmp_path / "in" / "person.png")
    assert main(["predict", str(model_file), str(picture), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "person.png").is_file()


@pytest.mark.parametrize("kind", ["missing", "truncated", "foreign", "text"])
def test_predict_refuses_a_bad_model_file(model_file, tmp_path, capsys, kind):
    bad = tmp_path / "model.pt"
    if kind == "truncated":
        bad.write_bytes(model_file.read_bytes()[:2000])
    elif kind == "foreign":
        torch.save({"weights": torch.zeros(3)}, bad)
    elif kind == "text":
        bad.write_text("hello, I am not a model\n")
    picture = _image(tmp_path / "person.png")
    assert main(["predict", str(bad), str(picture), "--out", str(tmp_path / "out")]) == 2
    _one_error_line(capsys, bad)


def test_predict_refuses_a_model_whose_weights_are_not_finite(model_file, tmp_path, capsys):
    payload = torch.load(model_file, weights_only=True)
    name = next(k for k, v in payload["state_dict"].items() if v.is_floating_point() and v.numel() > 16)
    payload["state_dict"][name].view(-1)[:4] = float("nan")  # what flipped exponent bits do to a float
    bad = tmp_path / "flipped.pt"
    torch.save(payload, bad)
    picture = _image(tmp_path / "person.png")
    assert main(["predict", str(bad), str(picture), "--out", str(tmp_path / "out")]) == 2
    _one_error_line(capsys, bad, name)
    assert not (tmp_path / "out").exists()


def test_predict_refuses_an_out_that_is_a_file(model_file, tmp_path, capsys):
    out = tmp_path / "out.txt"
    out.write_text("mine")
    picture = _image(tmp_path / "person.png")
    assert main(["predict", str(model_file), str(picture), "--out", str(out)]) == 2
    _one_error_line(capsys, out)
    assert out.read_text() == "mine"


def test_predict_never_overwrites_an_input_image(model_file, tmp_path, capsys):
    picture = _image(tmp_path / "photos" / "person.png")
    before = picture.read_bytes()
    assert main(["predict", str(model_file), str(picture), "--out", str(tmp_path / "photos")]) == 2
    _one_error_line(capsys, picture)
    assert picture.read_bytes() == before


def test_predict_gives_inputs_with_the_same_stem_their_own_overlays(model_file, tmp_path):
    first = _image(tmp_path / "a" / "person.png", seed=1)
    second = _image(tmp_path / "b" / "person.jpg", seed=2)
    out = tmp_path / "out"
    assert main(["predict", str(model_file), str(first), str(second), "--out", str(out)]) == 0
    predictions = json.loads((out / "predictions.json").read_text())
    overlays = {predictions[str(p)]["overlay"] for p in (first, second)}
    assert len(overlays) == 2 and all(Path(o).is_file() for o in overlays)


def test_predict_refuses_a_truncated_jpeg_instead_of_half_decoding_it(model_file, tmp_path, capsys):
    image = np.random.default_rng(0).integers(0, 255, (120, 100, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", image)
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(data.tobytes()[: len(data) // 2])
    assert cv2.imread(str(truncated)) is not None  # OpenCV alone half-decodes it
    assert main(["predict", str(model_file), str(truncated), "--out", str(tmp_path / "out")]) == 2
    _one_error_line(capsys, truncated)


# ------------------------------------------------------------------------------------------- data


def test_data_show_refuses_an_out_that_is_not_an_image_file(tmp_path, capsys):
    from data_pipeline.demo import write_demo

    write_demo(tmp_path / "demo", clips=1, target_images=2)
    out = tmp_path / "grid.txt"
    assert main(["data", "show", str(tmp_path / "demo"), "--out", str(out)]) == 2
    _one_error_line(capsys, out)


def test_enhance_with_no_inputs_is_one_line(tmp_path, capsys):
    assert main(["data", "enhance", "--out", str(tmp_path / "shards")]) == 2
    _one_error_line(capsys)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["data", "enhance", "--source", f"surreal:{empty}", "--out", str(tmp_path / "shards")]) == 2
    _one_error_line(capsys, empty)


def test_enhance_refuses_to_overwrite_its_own_input(tmp_path, capsys):
    from data_pipeline.demo import write_demo

    write_demo(tmp_path / "demo", clips=1, target_images=4)
    lsp = tmp_path / "demo" / "lsp"
    before = sorted(p.relative_to(lsp) for p in lsp.rglob("*"))
    code = main(["data", "enhance", "--target", f"lsp:{lsp}", "--out", str(lsp), "--overwrite"])
    assert code == 2
    _one_error_line(capsys, lsp)
    assert sorted(p.relative_to(lsp) for p in lsp.rglob("*")) == before


def test_enhance_overwrite_refuses_a_folder_posetune_did_not_write(tmp_path, capsys):
    from data_pipeline.demo import write_demo

    write_demo(tmp_path / "demo", clips=1, target_images=4)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    lsp = tmp_path / "demo" / "lsp"
    assert main(["data", "enhance", "--target", f"lsp:{lsp}", "--out", str(precious), "--overwrite"]) == 2
    _one_error_line(capsys, precious)
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_data_demo_overwrite_keeps_folders_posetune_did_not_write(tmp_path, capsys):
    out = tmp_path / "data"
    (out / "lsp").mkdir(parents=True)
    (out / "lsp" / "joints.mat").write_text("someone's own LSP copy")
    assert main(["data", "demo", "--out", str(out), "--clips", "1", "--overwrite"]) == 2
    _one_error_line(capsys, out / "lsp")
    assert (out / "lsp" / "joints.mat").read_text() == "someone's own LSP copy"


def test_data_demo_overwrite_replaces_its_own_output(tmp_path):
    out = tmp_path / "data"
    assert main(["data", "demo", "--out", str(out), "--clips", "1", "--seed", "0"]) == 0
    first = (out / "lsp" / "joints.mat").read_bytes()
    assert main(["data", "demo", "--out", str(out), "--clips", "1", "--seed", "1", "--overwrite"]) == 0
    assert (out / "lsp" / "joints.mat").read_bytes() != first
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # no leftovers


def test_an_interrupted_demo_generation_leaves_nothing_a_later_run_reuses(tmp_path, monkeypatch):
    from data_pipeline.demo import write as demo_write  # where write_demo looks render_target up

    real = demo_write.render_target
    calls = {"n": 0}

    def dies_midway(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(demo_write, "render_target", dies_midway)
    out = tmp_path / "data"
    assert main(["data", "demo", "--out", str(out), "--clips", "1"]) == 130  # Ctrl-C's exit code
    assert not (out / "lsp").exists() and not (out / "surreal").exists()
    monkeypatch.setattr(demo_write, "render_target", real)
    assert main(["data", "demo", "--out", str(out), "--clips", "1"]) == 0
    assert len(list((out / "lsp" / "images").glob("*.jpg"))) == 10


# ------------------------------------------------------------------------------------------- train


def test_train_metrics_log_is_replaced_atomically(tmp_path):
    from search.commands.train import MetricsLog

    log = MetricsLog(tmp_path)
    for epoch in (1, 2):
        log({"epoch": epoch, "train_loss": 1.0, "target_val_pdj20": 0.1, "target_val_rmse": 3.0,
             "source_val_pdj20": 0.1, "source_val_rmse": 3.0, "lr": 1e-3}, f"ckpt{epoch}")  # fmt: skip
    before = {n: (tmp_path / n).read_text() for n in ("metrics.jsonl", "metrics.csv")}
    with pytest.raises(TypeError):  # epoch 1 logged again (a resume) with a value JSON cannot write
        log({"epoch": 1, "train_loss": object(), "target_val_pdj20": 0.1, "target_val_rmse": 3.0,
             "source_val_pdj20": 0.1, "source_val_rmse": 3.0, "lr": 1e-3}, "ckpt1b")  # fmt: skip
    assert {n: (tmp_path / n).read_text() for n in before} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv", "metrics.jsonl"]
