"""Every Python block of the README and of the user guide runs as written.

The blocks of one document run in order in one namespace, as a reader would
paste them into one session, in a temporary folder. When a Python block is
followed directly by a ``text`` block, that block is what the Python block
prints, and the test compares them.
"""

import contextlib
import io
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "doc" / "user_guide").glob("*.rst"))]
# What a page needs beyond the test extra: skip it where that is missing.
NEEDS = {"scaling.rst": ["distributed", "array_api_strict"]}


@dataclass
class Block:
    line: int  # 1-based line of the first line of code
    language: str
    text: str
    opening: int  # 0-based index of the fence or directive line
    after: int  # 0-based index of the first non-blank line after the block
    output: str | None = None  # the text block that follows, if any


def _markdown_blocks(lines):
    blocks, index = [], 0
    while index < len(lines):
        match = re.fullmatch(r"```(\w*)\s*", lines[index])
        if not match:
            index += 1
            continue
        end = lines.index("```", index + 1)
        code = "\n".join(lines[index + 1 : end])
        after = _next_nonblank(lines, end + 1)
        blocks.append(Block(index + 2, match[1], code, index, after))
        index = end + 1
    return blocks


def _rst_blocks(lines):
    blocks, index = [], 0
    while index < len(lines):
        match = re.fullmatch(r"(\s*)\.\. code-block:: *(\w+)\s*", lines[index])
        if not match:
            index += 1
            continue
        indent = len(match[1])
        start = index + 1
        while start < len(lines) and (
            not lines[start].strip() or lines[start].lstrip().startswith(":")
        ):
            start += 1  # the blank line and the directive's options
        end = start
        while end < len(lines) and (
            not lines[end].strip() or _indent(lines[end]) > indent
        ):
            end += 1
        text = textwrap.dedent("\n".join(lines[start:end])).strip("\n")
        after = _next_nonblank(lines, end)
        blocks.append(Block(start + 1, match[2], text, index, after))
        index = end
    return blocks


def _indent(line):
    return len(line) - len(line.lstrip())


def _next_nonblank(lines, index):
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index


def document_blocks(path: Path) -> list[Block]:
    """The Python blocks of a document, each with the output shown after it."""
    lines = path.read_text().splitlines()
    parse = _markdown_blocks if path.suffix == ".md" else _rst_blocks
    blocks = parse(lines)
    python = []
    for block, following in zip(blocks, [*blocks[1:], None]):  # noqa: B905
        if block.language != "python":
            continue
        if (
            following is not None
            and following.language == "text"
            and following.opening == block.after
        ):
            block.output = following.text
        python.append(block)
    return python


def _strip(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_document_python_blocks_run(path, pyplot, monkeypatch, tmp_path):
    """Check that a document's Python blocks run and print what it shows."""
    for module in NEEDS.get(path.name, []):
        pytest.importorskip(module)
    monkeypatch.chdir(tmp_path)  # caches and files the blocks write land here
    namespace = {"__name__": "__main__"}
    for block in document_blocks(path):
        printed = io.StringIO()
        code = compile(block.text, f"{path.name}, line {block.line}", "exec")
        with contextlib.redirect_stdout(printed):
            exec(code, namespace)
        if block.output is not None:
            assert _strip(printed.getvalue()) == _strip(block.output), (
                f"{path.name}, line {block.line}: the output differs"
            )


def test_blocks_are_found():
    """Check that the parser finds the blocks and the outputs that follow them."""
    guide = ROOT / "doc" / "user_guide" / "nsigma.rst"
    blocks = document_blocks(guide)
    assert len(blocks) >= 2
    assert blocks[0].output is not None and "radius holding" in blocks[0].output
    readme = document_blocks(ROOT / "README.md")
    assert readme and all("import" in block.text for block in readme)
