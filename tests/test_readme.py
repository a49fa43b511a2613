"""The README and the docs stay what a newcomer can rely on: the README's test command is the one CI runs,
the README is short and keeps its sections in order, every relative link leads to a file that exists, and
docs/configuration.md names every config key."""

import dataclasses
import re
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_README_LINES = 250
SECTIONS = [
    "Set up",
    "Quick start",
    "Using it",
    "Clusters and GPUs",
    "Metrics",
    "Layout",
    "Results at a glance",
    "Documentation",
    "Development",
]
# Inline links [text](target "title") and reference definitions [label]: target.
_INLINE = re.compile(r"\[[^\]]*\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(\S+)(?:\s+\"[^\"]*\")?\s*$", re.M)
_FENCE = re.compile(r"^```.*?^```", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")


def _commands(text: str) -> list[str]:
    blocks = text.split("```bash\n")[1:]
    return [block.split("```")[0].strip() for block in blocks]


def test_readme_has_two_setup_commands_and_ci_runs_the_test_one():
    setup = README.read_text().split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = _commands(setup)
    assert len(commands) == 2, commands
    install_and_run, install_and_test = commands
    assert "pip install torch==2.13.0" in install_and_run and "posetune" in install_and_run
    assert "pytest" in install_and_test
    ci_lines = [
        line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")
    ]
    assert install_and_test in ci_lines


def test_readme_is_short_and_has_its_sections_in_order():
    text = README.read_text()
    lines = text.splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines (at most {MAX_README_LINES})"
    headings = [line[3:].strip() for line in _FENCE.sub("", text).splitlines() if line.startswith("## ")]
    assert headings == SECTIONS


def documentation_files() -> list[Path]:
    """The README, docs/*.md, the clusters guide and every write-up under bench/results/."""
    return [
        README,
        *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "clusters" / "README.md",
        *sorted((ROOT / "bench" / "results").rglob("*.md")),
    ]


def relative_links(text: str) -> list[str]:
    """Targets of the Markdown links in `text` that are not URLs (code blocks and code spans left out)."""
    prose = _CODE_SPAN.sub("", _FENCE.sub("", text))
    targets = _INLINE.findall(prose) + _REFERENCE.findall(prose)
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I)]


def test_relative_links_find_the_link_syntax():
    text = 'See [a](docs/a.md), [b](b.md "t"), [web](https://x.org/y), `[no](code.md)`.\n[r]: ../r.md\n'
    assert relative_links(text) == ["docs/a.md", "b.md", "../r.md"]


def test_every_relative_link_leads_to_an_existing_file_without_an_anchor():
    assert (ROOT / "docs").is_dir() and list((ROOT / "docs").glob("*.md"))
    broken = []
    for path in documentation_files():
        for target in relative_links(path.read_text()):
            where = f"{path.relative_to(ROOT)}: ({target})"
            if "#" in target:
                broken.append(f"{where}: link to the file, not an anchor (headings move)")
            elif not (path.parent / target).resolve().is_file():
                broken.append(f"{where}: no such file")
    assert not broken, "\n".join(broken)


def test_the_readme_links_every_docs_page():
    linked = {(ROOT / t).resolve() for t in relative_links(README.read_text())}
    missing = [p.name for p in sorted((ROOT / "docs").glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"README.md's Documentation section does not link {missing}"


def config_keys(cls: type, prefix: str = "") -> list[str]:
    """Every dotted key of a settings dataclass, nested sections walked (`train.model` is `model`)."""
    keys = []
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        dotted = f"{prefix}{field.name}"
        if dotted == "train.model":
            continue
        hint = hints[field.name]
        nested = [
            c for c in (hint, *typing.get_args(hint)) if isinstance(c, type) and dataclasses.is_dataclass(c)
        ]
        if nested and field.name != "space":
            keys += config_keys(nested[0], dotted + ".")
        else:
            keys.append(dotted)
    return keys


def test_the_configuration_page_names_every_config_key():
    from search.config import ExperimentConfig

    page = (ROOT / "docs" / "configuration.md").read_text()
    keys = config_keys(ExperimentConfig)
    assert "train.lr" in keys and "data.shift.lighting" in keys and "search.space" in keys
    missing = [key for key in keys if f"`{key}`" not in page]
    assert not missing, f"docs/configuration.md does not describe {missing}"
