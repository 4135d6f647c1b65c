"""The documentation sources: API coverage and the link checker (no Sphinx run)."""

import importlib.util
import re
from pathlib import Path

import sklearn_nsigma

DOC = Path(__file__).resolve().parent.parent / "doc"


def _load_check_links():
    spec = importlib.util.spec_from_file_location("check_links", DOC / "check_links.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_lists_every_public_name():
    """Check that api.rst documents every name of sklearn_nsigma.__all__."""
    api = (DOC / "api.rst").read_text()
    listed = set(re.findall(r"^   (\w+)$", api, flags=re.MULTILINE))
    listed |= set(re.findall(r"^\.\. py:data:: (\w+)", api, flags=re.MULTILINE))
    assert listed == set(sklearn_nsigma.__all__)


def test_user_guide_toctree_lists_every_page():
    """Check that every user guide page is in its toctree, and only those."""
    index = (DOC / "user_guide" / "index.rst").read_text()
    entries = set(re.findall(r"^   (\w+)$", index, flags=re.MULTILINE))
    pages = {path.stem for path in (DOC / "user_guide").glob("*.rst")} - {"index"}
    assert entries == pages
    assert {"calibration", "fitting", "command_line"} <= pages


def test_check_links_finds_broken_files_and_anchors(tmp_path):
    """Check that the link checker reports missing files and anchors only."""
    check_links = _load_check_links()
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="sub/page.html#there">ok</a> <a href="#top">ok</a>\n'
        '<a id="top" href="https://example.org/x.html">external</a>\n'
        '<img src="missing.png"> <a href="sub/page.html#nowhere">bad</a>\n'
    )
    (tmp_path / "sub" / "page.html").write_text(
        '<h1 id="there">t</h1><a href="../index.html">up</a>'
        '<a href="../../x.html">x</a>'
    )
    broken, n_checked, n_pages = check_links.check_site(tmp_path)
    assert (n_checked, n_pages) == (6, 2)
    assert sorted(broken) == [
        "index.html:3: missing.png: no such file",
        "index.html:3: sub/page.html#nowhere: no anchor #nowhere",
        "sub/page.html:1: ../../x.html: outside the site",
    ]


def test_check_links_reads_markdown_links(tmp_path):
    """Check that relative Markdown links and images must name existing files."""
    check_links = _load_check_links()
    (tmp_path / "doc").mkdir()
    (tmp_path / "doc" / "a.rst").write_text("a")
    readme = tmp_path / "README.md"
    readme.write_text(
        "[a](doc/a.rst) ![b](doc/b.png) [web](https://example.org) [top](#x)\n"
    )
    broken, n_checked = check_links.check_markdown(readme)
    assert n_checked == 2
    assert broken == ["README.md:1: doc/b.png: no such file"]
