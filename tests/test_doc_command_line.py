"""Run the Python code blocks of doc/user_guide/command_line.rst."""

import re
from pathlib import Path

import pytest

PAGE = (
    Path(__file__).resolve().parent.parent / "doc" / "user_guide" / "command_line.rst"
)


def code_blocks(text: str) -> list:
    """The bodies of the ``.. code-block:: python`` directives, dedented."""
    blocks = []
    for match in re.finditer(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text):
        lines = match.group(1).splitlines()
        blocks.append("\n".join(line[4:] for line in lines) + "\n")
    return blocks


def test_page_has_code_blocks():
    """Check the page holds at least one Python block (the parser finds them)."""
    assert len(code_blocks(PAGE.read_text())) >= 1


@pytest.mark.parametrize("index", range(len(code_blocks(PAGE.read_text()))))
def test_code_block_runs(index, tmp_path, monkeypatch):
    """Check each Python block of the command-line page runs as written."""
    pytest.importorskip("pandas")
    monkeypatch.chdir(tmp_path)
    block = code_blocks(PAGE.read_text())[index]
    exec(compile(block, f"{PAGE.name}[{index}]", "exec"), {"__name__": "__doc__"})
