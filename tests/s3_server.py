"""A real S3-compatible server on 127.0.0.1 for tests: moto's ThreadedMotoServer, talked to by pyarrow's own
S3FileSystem (the same client posetune, Ray Tune and the loader use).

Credentials come from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), as they would on a
cluster; moto accepts any. URIs carry the endpoint: `s3://bucket/path?endpoint_override=127.0.0.1:PORT&scheme=http`.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pyarrow.fs
import pytest

ACCESS_KEY = "AKIAPOSETUNETESTS000"
SECRET_KEY = "moto-accepts-any-secret"


def credentials_env() -> dict[str, str]:
    """The credentials every process reaching the server reads from its environment: drivers, and the suite's
    Ray nodes (a cluster's nodes hold their own, as an instance profile gives them)."""
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@dataclass
class S3Server:
    """The running server: its endpoint, a filesystem on it, and URIs into a fresh bucket."""

    endpoint: str
    filesystem: pyarrow.fs.S3FileSystem

    def env(self) -> dict[str, str]:
        """Environment a driver process needs to reach the server."""
        return credentials_env()

    def bucket(self) -> str:
        """A new empty bucket (tests never share one)."""
        name = f"posetune-{uuid.uuid4().hex[:12]}"
        self.filesystem.create_dir(name)
        return name

    def uri(self, path: str) -> str:
        return f"s3://{path}?endpoint_override={self.endpoint}&scheme=http"

    def files(self, path: str) -> list[str]:
        selector = pyarrow.fs.FileSelector(path, recursive=True, allow_not_found=True)
        return sorted(
            info.path for info in self.filesystem.get_file_info(selector) if info.type == pyarrow.fs.FileType.File
        )


@pytest.fixture(scope="session")
def s3_server():
    """moto in server mode for the whole session; the test process gets the credentials in its env."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"{host}:{port}"
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    instance = S3Server(
        endpoint,
        pyarrow.fs.S3FileSystem(
            endpoint_override=endpoint,
            scheme="http",
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            allow_bucket_creation=True,
        ),
    )
    os.environ.update(instance.env())
    try:
        yield instance
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()
