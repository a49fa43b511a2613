"""Tests that need a CUDA device: `@cuda` marks them `cuda` (select with `-m cuda`) and skips them without one."""

from __future__ import annotations

import pytest
import torch

HAS_CUDA = torch.cuda.is_available()


def cuda(test):
    """Mark a test as needing CUDA: it runs on a GPU machine and is skipped (with the reason) elsewhere."""
    return pytest.mark.cuda(pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")(test))
