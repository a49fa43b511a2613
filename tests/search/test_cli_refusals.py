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

from models.config import TrainConfig
from models.export import save_exported
from models.hourglass import HourglassConfig, StackedHourglass
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
    from search.jobs.train import MetricsLog

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


# ------------------------------------------------------------------------------------------- the output rule
# One rule for every command's outputs (data_pipeline.outputs), checked before any model or data loads:
# never over an input, the experiment's own files or anything posetune did not write; a file where a
# folder is needed (or the reverse) or a path under a file is one line; temporary files go away.


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def experiment(tmp_path) -> Path:
    """A folder that reads as an experiment (its manifest); the output checks come before anything else."""
    folder = tmp_path / "runs" / "exp"
    folder.mkdir(parents=True)
    manifest = {"format": "posetune-experiment", "name": "exp", "config": {}}
    (folder / "experiment.json").write_text(json.dumps(manifest))
    (folder / "optuna-journal.log").write_text("{}\n")
    (folder / "trial_0" / "checkpoint_000000").mkdir(parents=True)
    (folder / "trial_0" / "checkpoint_000000" / "state.pt").write_bytes(b"weights")
    return folder


@pytest.mark.parametrize(
    ("out", "problem"),
    [
        ("experiment.json", "lies inside the input"),  # once replaced the manifest with the model, exit 0
        ("trial_0/checkpoint_000000/state.pt", "lies inside the input"),
        ("optuna-journal.log", "lies inside the input"),
        (".", "is a folder"),
        ("../../existing-folder", "is a folder"),
        ("../../a-file/best.pt", "which is a file"),
        ("../../precious.pt", "not written by posetune"),
    ],
)
def test_export_refuses_outputs_that_would_replace_what_it_must_not(experiment, tmp_path, capsys, out, problem):
    (tmp_path / "existing-folder").mkdir()
    (tmp_path / "a-file").write_text("mine")
    (tmp_path / "precious.pt").write_text("someone's own weights")
    before = _tree(tmp_path)
    target = experiment / out
    for flags in ([], ["--overwrite"]):  # --overwrite replaces only a model file posetune exported
        assert main(["search", "export", str(experiment), "--out", str(target), *flags]) == 2
        _one_error_line(capsys, problem)
        assert _tree(tmp_path) == before  # nothing replaced, no <out>.tmp left


def test_exported_model_file_leaves_no_temporary_file_when_writing_fails(tmp_path, monkeypatch):
    config = TrainConfig(
        model=HourglassConfig(num_stacks=1, num_features=16, depth=2, num_joints=14, input_size=32),
        channels_last=False,
    )

    def fails_midway(payload, path, *args, **kwargs):
        Path(path).write_bytes(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", fails_midway)
    with pytest.raises(OSError, match="disk full"):
        save_exported(tmp_path / "best.pt", StackedHourglass(config.model), config)
    assert list(tmp_path.iterdir()) == []


def test_predict_gives_every_input_its_own_overlay_whatever_the_names(model_file, tmp_path):
    """x/a.jpg, y/a.png, z/a-2.jpg once gave two a-2.png: one overlay lost, two inputs mapped to one."""
    inputs = [_image(tmp_path / "x" / "a.jpg", 1), _image(tmp_path / "y" / "a.png", 2), _image(tmp_path / "z" / "a-2.jpg", 3)]
    out = tmp_path / "out"
    assert main(["predict", str(model_file), *map(str, inputs), "--out", str(out)]) == 0
    predictions = json.loads((out / "predictions.json").read_text())
    overlays = [predictions[str(p)]["overlay"] for p in inputs]
    assert len(set(overlays)) == 3 and all(Path(o).is_file() for o in overlays)
    assert len(list(out.glob("*.png"))) == 3


def test_predict_refuses_an_out_under_a_file_before_loading_the_model(tmp_path, capsys):
    (tmp_path / "file").write_text("mine")
    picture = _image(tmp_path / "person.png")
    missing_model = tmp_path / "no-such-model.pt"  # the out is refused first, so the model is never read
    assert main(["predict", str(missing_model), str(picture), "--out", str(tmp_path / "file" / "sub")]) == 2
    _one_error_line(capsys, tmp_path / "file" / "sub", "which is a file")


def test_predict_replaces_only_its_own_folder_and_only_with_overwrite(model_file, tmp_path, capsys):
    picture = _image(tmp_path / "in" / "person.png")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "person.png").write_text("my own drawing")
    assert main(["predict", str(model_file), str(picture), "--out", str(mine), "--overwrite"]) == 2
    _one_error_line(capsys, mine, "not written by posetune")
    assert (mine / "person.png").read_text() == "my own drawing"

    out = tmp_path / "out"
    assert main(["predict", str(model_file), str(picture), "--out", str(out)]) == 0
    first = _tree(out)
    assert main(["predict", str(model_file), str(picture), "--out", str(out)]) == 2
    _one_error_line(capsys, out, "--overwrite")
    assert _tree(out) == first
    other = _image(tmp_path / "in" / "other.png", seed=5)
    assert main(["predict", str(model_file), str(other), "--out", str(out), "--overwrite"]) == 0
    assert sorted(_tree(out)) == ["other.png", "posetune-output.json", "predictions.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "mine", "out"]  # no staging folder left


TRAIN_CONFIG = "data: {{shards: {shards}}}\nmodel: {{num_stacks: 1, num_features: 16, depth: 2, input_size: 32}}\n"


@pytest.mark.parametrize("case", ["existing file", "under a file", "a folder posetune did not write", "the shards"])
def test_train_refuses_a_bad_out_before_reading_or_making_data(tmp_path, capsys, ray_session, case):
    shards = tmp_path / "shards"
    (shards).mkdir()
    (shards / "notes.txt").write_text("my shards")
    config = tmp_path / "c.yaml"
    config.write_text(TRAIN_CONFIG.format(shards=shards))
    (tmp_path / "file").write_text("mine")
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "notes.txt").write_text("keep")
    out = {
        "existing file": tmp_path / "file",
        "under a file": tmp_path / "file" / "run",
        "a folder posetune did not write": tmp_path / "theirs",
        "the shards": shards / "run",
    }[case]
    before = _tree(tmp_path)
    assert main(["train", "--config", str(config), "--out", str(out), "--no-progress"]) == 2
    _one_error_line(capsys, out)
    assert _tree(tmp_path) == before


def test_data_demo_keeps_a_summary_posetune_did_not_write(tmp_path, capsys):
    """`data demo --out DIR` once replaced a user's DIR/demo_summary.json, --overwrite or not."""
    out = tmp_path / "data"
    out.mkdir()
    (out / "demo_summary.json").write_text('{"mine": true}')
    for flags in ([], ["--overwrite"]):
        assert main(["data", "demo", "--out", str(out), "--clips", "1", *flags]) == 2
        _one_error_line(capsys, out / "demo_summary.json")
        assert (out / "demo_summary.json").read_text() == '{"mine": true}'
        assert sorted(p.name for p in out.iterdir()) == ["demo_summary.json"]  # refused before generating


def test_data_demo_refuses_an_out_that_is_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("mine")
    assert main(["data", "demo", "--out", str(tmp_path / "file"), "--clips", "1"]) == 2
    _one_error_line(capsys, tmp_path / "file", "is a file")
    assert (tmp_path / "file").read_text() == "mine"


def test_enhance_refuses_an_out_that_is_a_file(tmp_path, capsys):
    from data_pipeline.demo import write_demo

    write_demo(tmp_path / "demo", clips=1, target_images=4)
    (tmp_path / "file").write_text("mine")
    lsp = tmp_path / "demo" / "lsp"
    assert main(["data", "enhance", "--target", f"lsp:{lsp}", "--out", str(tmp_path / "file")]) == 2
    _one_error_line(capsys, tmp_path / "file", "is a file")
    assert (tmp_path / "file").read_text() == "mine"


def test_inspect_refuses_a_plot_name_taken_by_a_folder_before_reading_trials(experiment, capsys):
    (experiment / "learning_curves.png").mkdir()
    assert main(["search", "inspect", str(experiment)]) == 2
    _one_error_line(capsys, experiment / "learning_curves.png", "is a folder")
