"""The models' settings, light on purpose (pydantic, no torch): `HourglassConfig` (a config's `model`
section, the network's shape) and `TrainConfig` (its `train` section, one training configuration), so a
config loads and validates without importing torch. `models.hourglass` re-exports `HourglassConfig`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict
from typing import Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr, field_validator, model_validator

from data_pipeline.joints import LSP14
from data_pipeline.settings import settings_dataclass

LOSS_NAMES = ("mse", "ce")  # the pose losses models.losses.LOSSES defines, by name


@settings_dataclass(frozen=True)
class HourglassConfig:
    """The network's shape; a config's `model` section."""

    num_stacks: StrictInt = Field(2, ge=1, description="hourglasses in a row, each supervised (sec. 3.4)")
    num_features: StrictInt = Field(256, ge=2, description="channels inside the hourglass (even)")
    depth: StrictInt = Field(4, ge=1, description="poolings per hourglass: 64 -> 4 at 256 px input")
    num_joints: StrictInt = Field(16, ge=1, description="heatmaps predicted, one per joint")
    input_size: StrictInt = Field(
        256, ge=1, description="side of the square input, a multiple of 4 * 2**depth"
    )
    stem_features: StrictInt = Field(
        64, ge=2, description="channels of the 7x7 stem conv, doubled by its first residual (paper: 64)"
    )

    @field_validator("num_features")
    @classmethod
    def _even(cls, num_features: int) -> int:
        if num_features % 2:
            raise ValueError(f"HourglassConfig.num_features must be even, got {num_features}")
        return num_features

    @model_validator(mode="after")
    def _poolings_halve_even_sizes(self) -> HourglassConfig:
        divisor = 4 * 2**self.depth
        if self.input_size % divisor:
            raise ValueError(
                f"HourglassConfig.input_size {self.input_size} must be a multiple of 4 * 2**depth = {divisor} "
                "so every pooling of the hourglass halves an even size"
            )
        return self

    @property
    def heatmap_size(self) -> int:
        return self.input_size // 4

    def to_dict(self) -> dict:
        return asdict(self)


@settings_dataclass
class TrainConfig:
    """One training configuration (a config's `train` section, with its `model`); the search varies these
    fields by name (`train.<field>`), and a checkpoint records them."""

    model: HourglassConfig = Field(
        default_factory=lambda: HourglassConfig(num_joints=len(LSP14)), description="the network (`model`)"
    )
    epochs: StrictInt = Field(10, ge=1, description="epochs to train; ASHA's rungs count these")
    steps_per_epoch: StrictInt | None = Field(
        None, ge=1, description="steps per epoch (null: one pass over source train)"
    )
    batch_size: StrictInt = Field(6, ge=1, description="source images per step")
    lr: StrictFloat = Field(1e-3, gt=0, description="RMSprop learning rate at step 0")
    lr_decay_rate: StrictFloat = Field(
        0.5, gt=0, le=1, description="lr x rate^(step / decay_steps), every step"
    )
    lr_decay_steps: StrictInt = Field(
        2000, ge=1, description="steps over which the lr falls by lr_decay_rate"
    )
    rmsprop_alpha: StrictFloat = Field(0.99, ge=0, lt=1, description="RMSprop's smoothing constant")
    weight_decay: StrictFloat = Field(0.0, ge=0, description="L2 weight decay")
    sigma: StrictFloat = Field(2.0, gt=0, description="heatmap Gaussian std, heatmap pixels")
    loss: StrictStr = Field("mse", description=f"pose loss on the heatmaps: one of {LOSS_NAMES}")
    supervise: Literal["labelled", "visible"] = Field(
        "labelled", description="heatmap targets for labelled joints (occluded too), or visible ones only"
    )
    adv_weight: StrictFloat = Field(0.0, ge=0, description="domain-adversarial loss weight (0: no branch)")
    adv_attach: Literal["heatmaps", "features"] = Field(
        "heatmaps", description="what the domain classifier sees: the heatmaps or the last stack's features"
    )
    adv_schedule: Literal["dann", "constant"] = Field(
        "dann", description="gradient-reversal strength: DANN's ramp, or constant 1 (the study's)"
    )
    target_bn: Literal["shared", "frozen"] = Field(
        "shared", description="target images in the pose network's BatchNorm statistics, or not"
    )
    target_in_bn: StrictBool = Field(
        False, description="no domain loss, but target batches pass with the source ones (BN effect alone)"
    )
    seed: StrictInt = Field(0, ge=0, description="seed of weights, batches and augmentation")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: CUDA when torch sees it")
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="auto: bf16 on CUDA that has it")
    channels_last: StrictBool = Field(True, description="channels-last memory format (faster convolutions)")
    compile: StrictBool = Field(False, description="torch.compile the network")
    num_workers: StrictInt = Field(0, ge=0, description="DataLoader worker processes")
    eval_batch_size: StrictInt = Field(16, ge=1, description="images per validation batch")
    max_eval_samples: StrictInt | None = Field(
        None, ge=1, description="validate on a fixed random subset of this size (null: every sample)"
    )
    init_from: StrictStr | None = Field(
        None,
        description="warm start: a checkpoint (state.pt or its folder, path or URI) whose network weights the run starts from",
    )

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, loss: str) -> str:
        if loss not in LOSS_NAMES:
            raise ValueError(f"must be one of {LOSS_NAMES}, got {loss!r}")
        return loss

    @model_validator(mode="after")
    def _target_in_bn_needs_shared_bn(self) -> TrainConfig:
        if self.target_in_bn and self.target_bn == "frozen":
            raise ValueError(
                "TrainConfig.target_in_bn passes target images through the pose network's BatchNorm only to "
                "mix its statistics; with target_bn 'frozen' it would do nothing: set one of them"
            )
        return self

    @property
    def uses_target(self) -> bool:
        """Whether training draws unlabelled target batches (domain loss, or BatchNorm statistics)."""
        return self.adv_weight > 0 or self.target_in_bn

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """Build from plain types; an unknown key raises ValueError naming it."""
        known = {f.name for f in dataclasses.fields(cls)}
        for key in d:
            if key not in known:
                raise ValueError(f"unknown TrainConfig key {key!r}; known keys: {', '.join(sorted(known))}")
        if isinstance(d.get("model"), dict):
            d = {**d, "model": _model_config(d["model"])}
        return cls(**d)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _model_config(d: dict) -> HourglassConfig:
    known = {f.name for f in dataclasses.fields(HourglassConfig)}
    for key in d:
        if key not in known:
            raise ValueError(f"unknown TrainConfig key 'model.{key}'; known: {', '.join(sorted(known))}")
    return HourglassConfig(**d)
