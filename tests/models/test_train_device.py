"""The device and DataLoader side of training: loaders made once per fit with persistent workers that
still draw each epoch's own augmentations, one OpenCV thread per worker, CUDA RNG restore that tolerates a
different GPU count, and (with a GPU) training and resuming on CUDA."""

from __future__ import annotations

import os

import cv2
import numpy as np
import torch

from models.checkpoints import cuda_rng_to_restore
from models.config import TrainConfig
from models.loaders import TrainData, train_loader
from models.train import fit
from tests.cuda import cuda
from tests.models.blobs import BlobDataset

SIZE = 32


class Probe:
    """Items that say which (epoch, pass) stream produced them, in which process, with how many OpenCV
    threads: the image holds the thread count, the joints hold (epoch, pass, index, pid)."""

    def __init__(self, n: int):
        self.n, self.epoch, self.pass_index = n, 0, 0

    def __len__(self) -> int:
        return self.n

    def set_epoch(self, epoch: int, pass_index: int = 0) -> None:
        self.epoch, self.pass_index = epoch, pass_index

    def __getitem__(self, i: int) -> dict:
        joints = np.zeros((14, 2), dtype=np.float32)
        joints[:4, 0] = (self.epoch, self.pass_index, i, os.getpid())
        image = np.full((2, 2, 3), cv2.getNumThreads(), dtype=np.uint8)
        return {"image": image, "joints": joints, "labelled": np.ones(14, bool), "visible": np.ones(14, bool)}


def _epochs(loader, epochs):
    out = []
    for epoch in epochs:
        loader.batch_sampler.set_epoch(epoch)
        out.append([batch for batch in loader])
    return out


def test_persistent_workers_draw_each_epochs_stream_with_one_opencv_thread():
    cv2.setNumThreads(4)  # the parent's setting, which forked workers would otherwise inherit
    config = TrainConfig(batch_size=4, num_workers=2, seed=3)
    dataset = Probe(10)
    loader = train_loader(dataset, config, batch_size=4, steps=3, stream=0)  # 2 batches a pass: 2 passes
    epochs = _epochs(loader, [0, 1, 2])
    inline = _epochs(
        train_loader(Probe(10), TrainConfig(batch_size=4, seed=3), batch_size=4, steps=3, stream=0), [0, 1, 2]
    )

    pids = []
    for epoch, (batches, reference) in enumerate(zip(epochs, inline, strict=True)):
        assert len(batches) == 3
        for batch, ref in zip(batches, reference, strict=True):
            keys = batch["joints"][:, :4, 0].numpy()
            assert (keys[:, 0] == epoch).all(), "a worker augmented with a stale epoch"
            np.testing.assert_array_equal(keys[:, :3], ref["joints"][:, :3, 0].numpy())  # same as no workers
            assert (batch["image"] == 1).all(), "OpenCV threads not capped in the worker"
            pids.append(set(keys[:, 3].astype(int)))
        assert [int(k) for k in batches[2]["joints"][:, 1, 0]] == [1] * 4  # the third batch is pass 1
    assert set().union(*pids[:3]) == set().union(*pids[-3:])  # the same worker processes in every epoch
    assert os.getpid() not in set().union(*pids)
    cv2.setNumThreads(-1)


def test_cuda_rng_states_are_restored_for_the_devices_that_exist():
    states = [torch.full((4,), i, dtype=torch.uint8) for i in range(4)]
    assert [i for i, _ in cuda_rng_to_restore(states, 1)] == [0]
    assert [i for i, _ in cuda_rng_to_restore(states[:1], 2)] == [0]
    assert cuda_rng_to_restore(states, 0) == []
    assert torch.equal(cuda_rng_to_restore(states, 2)[1][1], states[1])


def _tiny(**overrides) -> TrainConfig:
    model = {"num_stacks": 1, "num_features": 8, "depth": 2, "num_joints": 14, "input_size": SIZE}
    base = {"model": model, "epochs": 2, "steps_per_epoch": 2, "batch_size": 4, "sigma": 1.0,
            "eval_batch_size": 8, "max_eval_samples": 8, "adv_weight": 0.2}  # fmt: skip
    return TrainConfig.from_dict({**base, **overrides})


def _data() -> TrainData:
    return TrainData(
        source_train=BlobDataset(12, SIZE, seed=1),
        source_val=BlobDataset(8, SIZE, seed=2),
        target_val=BlobDataset(8, SIZE, seed=3, background=90),
        target_adapt=BlobDataset(8, SIZE, seed=4, background=90),
    )


@cuda
def test_fit_on_cuda_in_bf16_with_workers_and_resume_with_a_different_gpu_count(tmp_path):
    config = _tiny(device="cuda", num_workers=1)
    reports = []
    fit(config, _data(), lambda m, d: reports.append((m, d)), str(tmp_path / "a"), keep_checkpoints=None)
    assert all(np.isfinite(m["train_loss"]) for m, _ in reports)
    first = reports[0][1] + "/state.pt"
    state = torch.load(first, weights_only=True)
    assert len(state["cuda_rng"]) == torch.cuda.device_count()
    state["cuda_rng"] = state["cuda_rng"] * 2 + [state["cuda_rng"][0]]  # saved where more GPUs were visible
    torch.save(state, first)
    resumed = []
    fit(config, _data(), lambda m, d: resumed.append(m), str(tmp_path / "b"), resume_from=reports[0][1])
    assert [m["epoch"] for m in resumed] == [2]
