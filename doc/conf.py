"""Sphinx configuration of the sklearn-nsigma documentation.

Build with ``python -m sphinx -W -b html doc doc/_build/html`` from the
repository root (``pip install -e ".[docs]"`` first). The build needs no
network: there is no intersphinx, and references to scikit-learn, NumPy or
SciPy objects render as plain names.

The gallery runs every script of ``examples/`` at full size. With
``NSIGMA_DOCS_QUICK=1`` in the environment (what CI does), the two long ones
run small: the Dask scoring example on 2 million rows instead of 100 million
(``NSIGMA_DASK_ROWS``), the Dask fit example on 200,000 rows instead of 100
million (``NSIGMA_DASK_FIT_ROWS``) and the comparison on 2 held-out digits
instead of 10 (``NSIGMA_HELD_OUT_DIGITS``); each variable can also be set
directly.
"""

import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # document this checkout, installed or not
QUICK = os.environ.get("NSIGMA_DOCS_QUICK", "0") not in ("", "0")
if QUICK:
    os.environ.setdefault("NSIGMA_DASK_ROWS", "2000000")
    os.environ.setdefault("NSIGMA_DASK_FIT_ROWS", "200000")
    os.environ.setdefault("NSIGMA_HELD_OUT_DIGITS", "2")
os.environ.setdefault("SCIPY_ARRAY_API", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import sklearn_nsigma  # noqa: E402

# A loaded machine stops the Dask example's worker processes slowly, and the
# nanny's warnings about it would land in the rendered output.
logging.getLogger("distributed.nanny").setLevel(logging.ERROR)

project = "sklearn-nsigma"
author = "The sklearn-nsigma developers"
copyright = "The sklearn-nsigma developers"
release = sklearn_nsigma.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build"]
root_doc = "index"
default_role = "literal"

# -- API reference ------------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"  # the numpydoc sections give the types
numpydoc_show_class_members = False  # the class template lists them
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- gallery --------------------------------------------------------------------
# sphinx-gallery reruns an example only when its file changed. The sizes the
# examples ran at are kept next to their outputs, and a change of sizes
# reruns them all, so a full build never shows a quick build's results.
GALLERY = Path(__file__).resolve().parent / "auto_examples"
SIZES = " ".join(
    f"{name}={os.environ.get(name, '')}"
    for name in ("NSIGMA_DASK_ROWS", "NSIGMA_DASK_FIT_ROWS", "NSIGMA_HELD_OUT_DIGITS")
)
SIZES_FILE = GALLERY / ".example_sizes"
RUN_STALE = not SIZES_FILE.is_file() or SIZES_FILE.read_text() != SIZES
GALLERY.mkdir(exist_ok=True)
SIZES_FILE.write_text(SIZES)

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "plot_gallery": "True",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("sklearn_nsigma",),
    "show_memory": False,
    "min_reported_time": 10,
    "run_stale_examples": RUN_STALE,
}

# -- HTML -----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-nsigma {release}"
html_static_path = []
html_show_sourcelink = False
html_theme_options = {
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "navigation_with_keys": False,
    "show_prev_next": True,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": [], "changelog": []}
