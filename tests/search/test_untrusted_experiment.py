"""An experiment folder is data, not code: inspecting or exporting one (a colleague's shared `s3://` run, say)
never unpickles anything it holds, and `resume` (which must restore Tune's pickled state) checks the
experiment's own manifest before it touches that state.

Tune's `experiment_state-*.json` embeds cloudpickled fields (`CLOUDPICKLE_FALLBACK`); reading it through
Tune's ExperimentAnalysis runs them. Here a crafted payload would create a marker file.
"""

from __future__ import annotations

import glob
import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from search.cli import main
from search.experiment import EXPERIMENT_MANIFEST

pytestmark = pytest.mark.slow


class _Payload:
    """Unpickling this object writes a marker file (pickle calls builtins.exec with the code)."""

    def __init__(self, marker: Path):
        self.code = f"open({str(marker)!r}, 'w').write('pwned')"

    def __reduce__(self):
        return (exec, (self.code,))


def _cloudpickle_field(marker: Path) -> dict:
    return {"_type": "CLOUDPICKLE_FALLBACK", "value": pickle.dumps(_Payload(marker)).hex()}


@pytest.fixture
def finished(tiny_search) -> Path:
    """The shared real finished search (tests/conftest.py); every test here tampers with a copy of it."""
    return Path(tiny_search[1].experiment_uri)


@pytest.fixture
def num_trials(tiny_search) -> int:
    return tiny_search[1].num_trials


def _tampered_copy(experiment: Path, dst: Path, marker: Path) -> Path:
    """A copy whose Tune state carries the payload at the top and in every trial's JSON state."""
    shutil.copytree(experiment, dst)
    for path in glob.glob(str(dst / "experiment_state-*.json")):
        state = json.loads(Path(path).read_text())
        state["payload"] = _cloudpickle_field(marker)
        for entry in state["trial_data"]:
            trial = json.loads(entry[0])
            trial["payload"] = _cloudpickle_field(marker)
            entry[0] = json.dumps(trial)
        Path(path).write_text(json.dumps(state))
    return dst


def test_the_payload_is_live_when_tune_reads_the_state(finished, tmp_path):
    """The guard of the tests below: Tune's own reader does run this payload."""
    from ray.tune import ExperimentAnalysis

    marker = tmp_path / "marker"
    copy = _tampered_copy(finished, tmp_path / "copy", marker)
    ExperimentAnalysis(str(copy))
    assert marker.read_text() == "pwned"


def test_inspect_reads_results_without_running_code_from_the_folder(finished, num_trials, tmp_path, capsys):
    marker = tmp_path / "marker"
    copy = _tampered_copy(finished, tmp_path / "copy", marker)
    assert main(["search", "inspect", str(copy), "--json", "--no-plots"]) == 0
    assert not marker.exists()
    report = json.loads(capsys.readouterr().out)
    assert len(report["trials"]) == num_trials
    assert all(t["status"] == "TERMINATED" for t in report["trials"])
    assert report["best"]["metrics"]["target_val_pdj20"] == max(
        t["metrics"]["target_val_pdj20"] for t in report["trials"]
    )


def test_export_reads_results_without_running_code_from_the_folder(finished, tmp_path):
    marker = tmp_path / "marker"
    copy = _tampered_copy(finished, tmp_path / "copy", marker)
    out = tmp_path / "best.pt"
    assert main(["search", "export", str(copy), "--out", str(out)]) == 0
    assert not marker.exists()
    assert "state_dict" in torch.load(out, weights_only=True)


def test_export_refuses_a_checkpoint_that_holds_pickled_code(finished, tmp_path, capsys):
    marker = tmp_path / "marker"
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    for weights in copy.glob("*/checkpoint_*/*.pt"):
        weights.write_bytes(pickle.dumps(_Payload(marker)))
    assert main(["search", "export", str(copy), "--out", str(tmp_path / "best.pt")]) == 2
    assert not marker.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("posetune: error: ")


@pytest.mark.parametrize("manifest", ["missing", "garbage", "not-ours"])
def test_resume_checks_the_manifest_before_restoring_tunes_pickled_state(
    finished, tmp_path, capsys, manifest
):
    marker = tmp_path / "marker"
    copy = _tampered_copy(finished, tmp_path / "copy", marker)
    for pickled in copy.glob("*.pkl"):  # Tune's own pickles carry the payload too
        pickled.write_bytes(pickle.dumps(_Payload(marker)))
    if manifest == "missing":
        (copy / EXPERIMENT_MANIFEST).unlink()
    elif manifest == "garbage":
        (copy / EXPERIMENT_MANIFEST).write_bytes(b"\x00\xff{not json")
    else:
        (copy / EXPERIMENT_MANIFEST).write_text(json.dumps({"hello": "world"}))
    assert main(["search", "resume", str(copy)]) == 2
    assert not marker.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("posetune: error: ") and EXPERIMENT_MANIFEST in err[0], err


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("posetune: error: ") and EXPERIMENT_MANIFEST in err[0], err
    return err[0]


@pytest.mark.parametrize("content", [b"\x00\xff{garbage", b"[1, 2, 3]", b'{"config": 5}'])
def test_inspect_and_export_of_a_garbage_manifest_is_one_line(tmp_path, capsys, content):
    experiment = tmp_path / "exp"
    experiment.mkdir()
    (experiment / EXPERIMENT_MANIFEST).write_bytes(content)
    assert main(["search", "inspect", str(experiment), "--no-plots"]) == 2
    _one_error_line(capsys)
    assert main(["search", "export", str(experiment), "--out", str(tmp_path / "b.pt")]) == 2
    _one_error_line(capsys)
