"""A small demo set written once per test session (3 clips of 3-6 frames, 8 target images)."""

import pytest

from data_pipeline.demo import write_demo


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    summary = write_demo(out, clips=3, seed=7, frames=(3, 6), target_images=8)
    return out, summary
