"""The exported model file: loads on the asked device with the right precision, predicts in bounded batches,
and the predict command runs where the model is (model and inputs on one device)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from models.config import TrainConfig
from models.export import export_onnx, inference_config, load_exported, predict_images, save_exported
from models.train import build_model
from search.cli import main
from tests.cuda import HAS_CUDA, cuda

SIZE = 32


def _exported(tmp_path, **overrides):
    config = TrainConfig.from_dict(
        {
            "model": {"num_stacks": 1, "num_features": 8, "depth": 2, "num_joints": 14, "input_size": SIZE},
            "eval_batch_size": 4,
            **overrides,
        }
    )
    model, _ = build_model(config)
    return save_exported(tmp_path / "model.pt", model, config), model


def _images(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (40 + 3 * i, 30 + 2 * i, 3), dtype=np.uint8) for i in range(n)]


def test_cpu_load_runs_in_fp32_even_when_training_used_bf16(tmp_path):
    path, _ = _exported(tmp_path, precision="bf16", device="cuda")
    model, config, meta = load_exported(path, device="cpu")
    assert config.device == "cpu" and config.precision == "fp32" and not config.compile
    assert {p.device.type for p in model.parameters()} == {"cpu"} and not model.training
    assert meta["train_config"]["precision"] == "bf16"  # the file still says how it was trained


def test_cuda_keeps_the_training_precision():
    config = TrainConfig(precision="auto")
    if HAS_CUDA:
        assert inference_config(config, "cuda").precision == "auto"  # auto means bf16 autocast on CUDA
    assert inference_config(TrainConfig(precision="bf16"), "cpu").precision == "fp32"
    with pytest.raises(ValueError, match="'auto', 'cpu' or 'cuda'"):
        inference_config(config, "tpu")


def test_many_images_are_predicted_in_eval_sized_batches_with_the_same_result(tmp_path):
    path, _ = _exported(tmp_path)
    model, config, _ = load_exported(path, device="cpu")
    images = _images(10)  # 10 images in batches of eval_batch_size=4: 4 + 4 + 2
    together = predict_images(model, config, images)
    alone = [predict_images(model, config, [image])[0] for image in images]
    assert len(together) == 10
    for (j1, c1), (j2, c2) in zip(together, alone, strict=True):
        np.testing.assert_allclose(j1, j2, atol=1e-4)
        np.testing.assert_allclose(c1, c2, atol=1e-5)


@pytest.mark.skipif(HAS_CUDA, reason="checks the error shown where there is no CUDA device")
def test_asking_for_cuda_without_one_is_one_clear_error(tmp_path, capsys):
    path, _ = _exported(tmp_path)
    with pytest.raises(ValueError, match="no CUDA device"):
        load_exported(path, device="cuda")
    picture = tmp_path / "p.png"
    cv2.imwrite(str(picture), _images(1)[0])
    assert main(["predict", str(path), str(picture), "--out", str(tmp_path / "o"), "--device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


@cuda
def test_predict_on_cuda_matches_cpu_and_the_command_runs(tmp_path):
    path, _ = _exported(tmp_path)
    model, config, _ = load_exported(path)  # auto: the GPU
    assert {p.device.type for p in model.parameters()} == {"cuda"} and config.device == "cuda"
    images = _images(6)
    on_gpu = predict_images(model, config, images)
    cpu_model, cpu_config, _ = load_exported(path, device="cpu")
    on_cpu = predict_images(cpu_model, cpu_config, images)
    for (jg, _), (jc, _) in zip(on_gpu, on_cpu, strict=True):
        # bf16 autocast on the GPU: the same peaks to within a heatmap cell (4 input pixels at 32 px).
        assert np.median(np.abs(jg - jc)) < 4.0
    export_onnx(model, config, tmp_path / "model.onnx")  # traced on a CPU copy, whatever the model's device
    assert {p.device.type for p in model.parameters()} == {"cuda"}
    picture = tmp_path / "p.png"
    cv2.imwrite(str(picture), images[0])
    assert main(["predict", str(path), str(picture), "--out", str(tmp_path / "o")]) == 0
    assert json.loads((tmp_path / "o" / "predictions.json").read_text())[str(picture)]["joints"]
    assert torch.cuda.memory_allocated() > 0
