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


def cli_handlers(path: Path) -> set[str]:
    """The functions a search/commands module hands argparse to call: each `set_defaults(func=NAME)`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return {
        keyword.value.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "set_defaults"
        for keyword in node.keywords
        if keyword.arg == "func" and isinstance(keyword.value, ast.Name)
    }


def test_each_cli_handler_has_at_most_one_local_import_and_other_command_functions_none():
    handlers, over = 0, {}
    for path in python_files("search/commands"):
        handled = cli_handlers(path)
        handlers += len(handled)
        for name, _, imports in functions(path):
            if imports > (1 if name in handled else 0):
                over[f"{relative(path)}:{name}"] = imports
    assert handlers >= 11, "set_defaults(func=...) not found: the rule would check no handler"
    assert not over, f"local imports (a handler may have one, other functions in search/commands none): {over}"


def test_no_function_in_the_cli_over_60_lines():
    files = [*python_files("search/commands"), ROOT / "search" / "cli.py"]
    long = {f"{relative(p)}:{name}": n for p in files for name, n, _ in functions(p) if n > 60}
    assert not long, f"functions over 60 lines: {long}"
