"""Credentials out of what posetune writes: the experiment manifest, W&B's config, Tune's pickled callbacks,
and Ray's logs (a private temp dir for a local Ray).

A value is a credential when its key says so (`secret`, `token`, `password`, `api_key`, ...), when it is the
user-info of a URI (`s3://KEY:SECRET@bucket/...`) or a credential option in a URI's query
(`?secret_key=...`), or when it equals the value of a known secret environment variable. Redacted values
read `***`; a config holding one cannot drive trials again (`has_redacted`).
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from typing import Any

REDACTED = "***"
SECRET_ENV = (
    "WANDB_API_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "GOOGLE_API_KEY",
    "AZURE_STORAGE_KEY",
    "HF_TOKEN",
)
_SECRET_NAME = re.compile(r"pass(word|wd)?|secret|token|api[_-]?key|access[_-]?key|credential|private[_-]?key", re.I)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@?#\s]+)@")
_QUERY = re.compile(r"(?P<name>[?&][^=&#\s]+)=(?P<value>[^&#\s]*)")


def is_secret_name(name: str) -> bool:
    """Whether a key or option name says its value is a credential."""
    return bool(_SECRET_NAME.search(name))


def redact_text(text: str) -> str:
    """`text` with URI credentials and the values of secret environment variables replaced by ***."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)
    text = _QUERY.sub(
        lambda m: f"{m['name']}={REDACTED}" if is_secret_name(m["name"]) and m["value"] else m[0], text
    )
    for name in SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 8:
            text = text.replace(value, REDACTED)
    return text


def redact(value: Any, key: str = "") -> Any:
    """A copy of a nested config/dict/list with every credential replaced (keys are kept)."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, key) for v in value]
    if isinstance(value, str):
        return REDACTED if value and is_secret_name(key) else redact_text(value)
    return value


def redact_argv(argv: list[str]) -> list[str]:
    """A command line with `--set key=value` credentials (by key or by value) and URI credentials hidden."""
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and is_secret_name(key.lstrip("-")):
            out.append(f"{key}={REDACTED}")
        else:
            out.append(redact_text(arg))
    return out


def has_redacted(value: Any) -> list[str]:
    """Dotted keys of a nested dict whose values were redacted (they cannot be used as they are)."""
    found = []

    def walk(node: Any, dotted: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{dotted}.{k}" if dotted else str(k))
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v, dotted)
        elif isinstance(node, str) and REDACTED in node:
            found.append(dotted)

    walk(value, "")
    return found


def private_ray_temp_dir() -> str:
    """A temp dir for a local Ray that only this user can enter (`$TMPDIR/posetune-ray-<uid>`, mode 0700);
    set as RAY_TMPDIR before a local Ray starts.

    Ray's default, /tmp/ray, is world-readable, and its runtime-env agent logs every `runtime_env` env var;
    Tune itself passes AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN to its trainables that
    way (ray/tune/execution/class_cache.py). Kept short: Ray's socket paths must fit in 107 bytes.
    """
    path = os.path.join(tempfile.gettempdir(), f"posetune-ray-{os.getuid()}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{path}: not a folder owned by this user; refusing to put Ray's logs there")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        os.chmod(path, 0o700)
    return path
