"""Smoke test: every script in examples/ runs headless, without warnings."""

import re
import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))
# Examples that take more than 20 s: deselect them with -m "not slow".
SLOW = {"plot_outlier_detection_comparison.py"}
# Environment variables for examples whose full size is too large for a test.
ENVIRONMENT = {
    "plot_dask_scoring.py": {"NSIGMA_DASK_ROWS": "2000000"},
    "plot_dask_fit.py": {"NSIGMA_DASK_FIT_ROWS": "200000"},
    "plot_outlier_detection_comparison.py": {"NSIGMA_HELD_OUT_DIGITS": "2"},
}


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(path, marks=[pytest.mark.slow] if path.name in SLOW else [])
        for path in EXAMPLES
    ],
    ids=[path.name for path in EXAMPLES],
)
def test_example_runs(path, pyplot, monkeypatch, tmp_path):
    """Check that an example runs to its end and draws at least one figure."""
    monkeypatch.chdir(tmp_path)  # anything an example writes lands here
    for name, value in ENVIRONMENT.get(path.name, {}).items():
        monkeypatch.setenv(name, value)
    if path.name in ENVIRONMENT and "dask" in path.name:
        pytest.importorskip("distributed")
    shown = []
    monkeypatch.setattr(
        pyplot, "show", lambda *a, **k: shown.append(pyplot.get_fignums())
    )
    runpy.run_path(str(path), run_name="__main__")
    assert shown and shown[-1], f"{path.name} showed no figure"


def test_examples_are_found():
    """Check that the examples of the README are all there."""
    names = {path.name for path in EXAMPLES}
    assert {
        "plot_gmm_vs_kmeans.py",
        "plot_nsigma_vs_pdf.py",
        "plot_coverage_dimensions.py",
        "plot_outlier_pipeline.py",
    } <= names


def test_readme_images_exist():
    """Check that every image the README shows is in doc/images."""
    root = Path(__file__).parent.parent
    images = re.findall(
        r"\(doc/images/([\w.-]+\.png)\)", (root / "README.md").read_text()
    )
    assert images
    for name in images:
        assert (root / "doc" / "images" / name).is_file(), name
