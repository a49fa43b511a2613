"""No secret in a file another local user can read, and none in the manifest, Tune's state or W&B's files.

A search runs with a W&B API key and an AWS secret in its environment, a credential inside a `--set`
URI (shards on a real S3 server, moto), the AWS secret's value and a secret-named URI option in
`data.targets`, and a warm start (whose pretraining config the manifest records). Then every file it wrote
is searched for the planted values: the experiment folder (manifest, Tune's files, the warm-start folder),
W&B's offline runs, the working directory, and Ray's temp dir — which may hold the AWS secret (Tune hands
AWS_* to its trainables through `runtime_env`, and Ray's agent logs it) only if no other user can enter it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pyarrow.fs
import pytest
import yaml

from search.cli import main
from search.experiment import EXPERIMENT_MANIFEST
from tests.s3_server import s3_server  # noqa: F401  (fixture)
from tests.search.tiny import TINY, tiny_config

pytestmark = pytest.mark.slow

WANDB_KEY = "plantedwandbkey" + "0" * 25  # 40 characters, the shape of a real key
AWS_SECRET = "planted-aws-secret-access-key"
URI_SECRET = "planted-uri-secret"
OPTION_SECRET = "planted-option-secret"  # the value of a secret-named URI option (`?secret_key=`)


def _files_holding(root: Path, needles: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {n: [] for n in needles}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                data = path.read_bytes()
            except OSError:
                continue
            for needle in needles:
                if needle.encode() in data:
                    found[needle].append(str(path))
    return found


def _private(path: Path) -> bool:
    """Whether no one but the owner can enter `path` or any folder above it up to the first private one."""
    for folder in [path, *path.parents]:
        info = folder.stat()
        if info.st_uid == os.getuid() and not info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            return True
        if folder == Path(folder.anchor):
            break
    return False


def test_planted_secrets_reach_no_readable_file(tmp_path, shard_root, s3_server, monkeypatch):  # noqa: F811
    import ray

    bucket = s3_server.bucket()
    pyarrow.fs.copy_files(
        shard_root,
        f"{bucket}/shards",
        source_filesystem=pyarrow.fs.LocalFileSystem(),
        destination_filesystem=s3_server.filesystem,
    )
    shards = f"s3://AKIAPLANTEDKEYID:{URI_SECRET}@{bucket}/shards?endpoint_override={s3_server.endpoint}&scheme=http"
    config = tiny_config(
        tmp_path,
        train={**TINY["train"], "epochs": 1},
        search={**TINY["search"], "num_samples": 2},
        tracking={"wandb": "offline", "project": "posetune-tests"},
        warm_start={"pretrain_epochs": 1},  # its record in the manifest holds the whole pretraining config
    )
    config_file = tmp_path / "c.yaml"
    config_file.write_text(yaml.safe_dump(config.to_dict()))
    monkeypatch.setenv("WANDB_API_KEY", WANDB_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.chdir(tmp_path)
    try:
        code = main(
            [
                "search",
                "launch",
                "--config",
                str(config_file),
                "--name",
                "secrets",
                "--set",
                f"data.shards={shards}",
                "--set",  # demo data: the targets are not read, only recorded
                f"data.targets=[lsp:/data/{AWS_SECRET}, 'lsp:s3://b/lsp?secret_key={OPTION_SECRET}']",
            ]
        )
        session = Path(ray._private.worker._global_node.get_session_dir_path())
    finally:
        ray.shutdown()
    assert code == 0

    experiment = tmp_path / "runs" / "secrets"
    assert list(experiment.glob("*/wandb/offline-run-*/run-*.wandb")), "no W&B offline runs were written"
    manifest = (experiment / EXPERIMENT_MANIFEST).read_text()
    assert bucket in manifest  # the URI is kept, only its credential is not
    assert '"warm_start"' in manifest and (experiment / "warm_start").is_dir()

    needles = [WANDB_KEY, AWS_SECRET, URI_SECRET, OPTION_SECRET]
    for needle, paths in _files_holding(tmp_path, needles).items():
        assert not paths, f"{needle} written to {paths}"
    in_ray = _files_holding(session, needles)
    assert not in_ray[WANDB_KEY], f"W&B key in Ray's files: {in_ray[WANDB_KEY]}"
    for needle in (URI_SECRET, OPTION_SECRET):
        assert not in_ray[needle], f"URI credential in Ray's files: {in_ray[needle]}"
    if in_ray[AWS_SECRET]:
        assert _private(session), f"AWS secret in {in_ray[AWS_SECRET]}, readable by other users"
