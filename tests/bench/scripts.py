"""How the tests reach the bench scripts: `bench` is a package, each script a module run as
`python -m bench.NAME` from the repository root; its functions can be tested directly."""

from __future__ import annotations

import importlib
from types import ModuleType


def load_bench_script(name: str) -> ModuleType:
    """The module `bench.<name>` (imported once)."""
    return importlib.import_module(f"bench.{name}")
