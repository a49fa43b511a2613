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


# --------------------------------------------------------------------------- search/: one experiment lifecycle
# search/commands/ and search/cli.py are the CLI's handlers (their own rules); the rest is the library.


def search_library() -> list[Path]:
    return [p for p in python_files("search") if "commands" not in p.parts and p.name != "cli.py"]


def calls(path: Path, attribute: str, owner: str):
    """Calls `<owner>.<attribute>(...)` in a file, `owner` a bare name or the last part of a dotted one."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == attribute:
            value = node.func.value
            if (isinstance(value, ast.Name) and value.id == owner) or (
                isinstance(value, ast.Attribute) and value.attr == owner
            ):
                yield node.lineno


def test_storage_resolved_in_at_most_two_places_in_search():
    """An experiment's URI is resolved once, by the `Experiment` handle; any other location in one place."""
    places = [f"{relative(p)}:{line}" for p in python_files("search") for line in calls(p, "resolve", "storage")]
    assert len(places) <= 2, f"storage.resolve( called in {len(places)} places: {places}"


def test_one_tuner_restore_in_search():
    places = [f"{relative(p)}:{line}" for p in python_files("search") for line in calls(p, "restore", "Tuner")]
    assert len(places) == 1, f"Tuner.restore( called in {len(places)} places: {places}"


def test_no_search_function_over_60_lines():
    long = {f"{relative(p)}:{name}": n for p in search_library() for name, n, _ in functions(p) if n > 60}
    assert not long, f"functions over 60 lines: {long}"


def test_at_most_two_local_imports_per_search_module():
    """Imports sit at the top of a module; a local one only where a light module must stay light."""
    local = {}
    for path in search_library():
        tree = ast.parse(path.read_text(), filename=str(path))
        count = sum(
            isinstance(inner, (ast.Import, ast.ImportFrom))
            for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            for inner in ast.walk(node)
        )
        if count > 2:
            local[relative(path)] = count
    assert not local, f"modules with more than 2 function-local imports: {local}"
