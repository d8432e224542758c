"""The `seggui` command: help for every subcommand, clear errors without tracebacks."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from seggui.cli import SUBCOMMANDS

REPO = Path(__file__).resolve().parents[1]


def run_seggui(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "seggui", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def test_top_level_help_lists_every_subcommand():
    result = run_seggui("--help")
    assert result.returncode == 0
    for name in SUBCOMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_each_subcommand_has_help(name):
    result = run_seggui(name, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: seggui " + name in result.stdout


def test_unknown_subcommand_exits_2():
    result = run_seggui("frobnicate")
    assert result.returncode == 2


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_command():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, re.S)
    assert len(blocks) >= 2
    launch, tests = blocks[0].strip(), blocks[1].strip()
    assert "pip install" in launch and "seggui" in launch
    assert "pytest" in tests
    assert tests in (REPO / ".ci" / "run").read_text()
