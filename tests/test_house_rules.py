"""The layout rules a newcomer relies on (issue 23), each checked on the source tree: file and function sizes,
where imports sit, and which modules may resolve storage. Each rule names its limit once, here."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def python_files(package: str) -> list[Path]:
    """Every .py file under a top-level folder of the repo."""
    return sorted((ROOT / package).rglob("*.py"))


def functions(path: Path):
    """(name, line count, local import statements) of every function in a file, nested ones included."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            imports = sum(
                isinstance(inner, (ast.Import, ast.ImportFrom)) for stmt in node.body for inner in ast.walk(stmt)
            )
            yield node.name, node.end_lineno - node.lineno + 1, imports


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("package", ["data_pipeline"])
def test_no_file_over_400_lines(package):
    long = {relative(p): n for p in python_files(package) if (n := len(p.read_text().splitlines())) > 400}
    assert not long, f"files over 400 lines: {long}"
