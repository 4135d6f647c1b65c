"""Check that every internal link of the built site, and of the README, resolves.

Usage (from the repository root, after building the site)::

    python -m sphinx -W -b html doc doc/_build/html
    python doc/check_links.py doc/_build/html

Every ``href`` and ``src`` of every HTML page that is not an external address
(a scheme such as ``https:`` or ``mailto:``, or ``//host``) must name a file
of the build, and its ``#fragment``, if any, an ``id`` (or ``<a name>``) of
that page. The relative links and images of ``README.md`` must name files of
the repository. Needs no network: Sphinx's ``linkcheck`` builder checks
external addresses, online. Exits with status 1 and lists the broken links
if there are any.
"""

import argparse
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
LINK_ATTRIBUTES = {"href", "src"}
# Markdown links and images whose target is not an external address.
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


class _PageParser(HTMLParser):
    """The anchors a page defines and the links it makes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.anchors: set[str] = set()
        self.links: list[tuple[int, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (tag == "a" and name == "name"):
                self.anchors.add(value)
            elif name in LINK_ATTRIBUTES:
                self.links.append((self.getpos()[0], value))


def _is_external(link: str) -> bool:
    parts = urlsplit(link)
    return bool(parts.scheme or parts.netloc)


def check_site(build: Path) -> tuple[list[str], int, int]:
    """Broken internal links of the HTML pages under ``build``.

    Returns
    -------
    broken : list of str
        One line per broken link: page, line, link and what is wrong.
    n_checked : int
        The number of internal links checked.
    n_pages : int
        The number of pages read (the theme's files in ``_static`` are not).
    """
    build = build.resolve()
    pages = {}
    for path in sorted(build.rglob("*.html")):
        if path.relative_to(build).parts[0] == "_static":
            continue  # the theme's templates and assets, not pages
        parser = _PageParser()
        parser.feed(path.read_text(encoding="utf-8"))
        pages[path] = parser
    broken, n_checked = [], 0
    for page, parser in pages.items():
        for line, link in parser.links:
            if _is_external(link):
                continue
            n_checked += 1
            parts = urlsplit(link)
            path = unquote(parts.path)
            target = (page.parent / path).resolve() if path else page
            if path.endswith("/") or target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(build)}:{line}: {link}"
            if not target.is_relative_to(build):
                broken.append(f"{where}: outside the site")
            elif not target.is_file():
                broken.append(f"{where}: no such file")
            elif parts.fragment and target.suffix == ".html":
                anchors = pages[target].anchors if target in pages else set()
                if unquote(parts.fragment) not in anchors:
                    broken.append(f"{where}: no anchor #{parts.fragment}")
    return broken, n_checked, len(pages)


def check_markdown(path: Path) -> tuple[list[str], int]:
    """Broken relative links and images of a Markdown file."""
    broken, n_checked = [], 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        for link in MARKDOWN_LINK.findall(line):
            if _is_external(link) or link.startswith("#"):
                continue
            n_checked += 1
            target = path.parent / unquote(urlsplit(link).path)
            if not target.exists():
                broken.append(f"{path.name}:{number}: {link}: no such file")
    return broken, n_checked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "build",
        nargs="?",
        type=Path,
        default=ROOT / "doc" / "_build" / "html",
        help="the HTML build folder (default: doc/_build/html)",
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        action="append",
        default=None,
        help="a Markdown file whose relative links to check (default: README.md)",
    )
    args = parser.parse_args(argv)
    if not (args.build / "index.html").is_file():
        print(f"{args.build}: no index.html; build the site first", file=sys.stderr)
        return 2
    broken, n_site, n_pages = check_site(args.build)
    n_markdown = 0
    for markdown in args.markdown or [ROOT / "README.md"]:
        found, n_checked = check_markdown(markdown)
        broken += found
        n_markdown += n_checked
    for line in broken:
        print(line)
    print(
        f"{n_site} internal links in {n_pages} pages and {n_markdown} Markdown "
        f"links checked: {len(broken)} broken"
    )
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
