"""Where and how a TrainConfig runs: the torch device, the autocast precision and the memory format, and
the one conversion of uint8 images into the network's input on that device."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from models.config import TrainConfig


@dataclass
class Runtime:
    """The device, autocast dtype (None: fp32) and memory format one training configuration runs with."""

    device: torch.device
    autocast_dtype: torch.dtype | None
    memory_format: torch.memory_format

    @classmethod
    def from_config(cls, config: TrainConfig) -> Runtime:
        """`device: auto` is CUDA when torch sees one; `precision: auto` is bf16 on CUDA, else fp32.
        ValueError when the config asks for CUDA and torch sees none."""
        if config.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("TrainConfig.device is 'cuda' but torch sees no CUDA device")
        use_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
        precision = config.precision if config.precision != "auto" else ("bf16" if use_cuda else "fp32")
        return cls(
            device=torch.device("cuda" if use_cuda else "cpu"),
            autocast_dtype=torch.bfloat16 if precision == "bf16" else None,
            memory_format=torch.channels_last if config.channels_last else torch.contiguous_format,
        )

    def autocast(self):
        """The autocast context of the forward passes (a no-op in fp32)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)


def images_to_tensor(images: torch.Tensor, runtime: Runtime) -> torch.Tensor:
    """uint8 `(B, S, S, 3)` RGB -> float `(B, 3, S, S)` in [0, 1] on the device, in the chosen memory format."""
    x = images.to(runtime.device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255.0)
    return x.contiguous(memory_format=runtime.memory_format)
