"""The README's test command is the one CI runs, so the two can't drift apart."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands(text: str) -> list[str]:
    blocks = text.split("```bash\n")[1:]
    return [block.split("```")[0].strip() for block in blocks]


def test_readme_has_two_setup_commands_and_ci_runs_the_test_one():
    setup = (ROOT / "README.md").read_text().split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = _commands(setup)
    assert len(commands) == 2, commands
    install_and_run, install_and_test = commands
    assert "pip install torch==2.13.0" in install_and_run and "posetune" in install_and_run
    assert "pytest" in install_and_test
    ci_lines = [
        line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")
    ]
    assert install_and_test in ci_lines
