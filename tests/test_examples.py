"""Smoke test: every script in examples/ runs headless, without warnings."""

import contextlib
import re
import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))
# Examples that start a Dask LocalCluster: here they run on the suite's
# shared one (see test_dask_example_runs).
DASK = {"plot_dask_scoring.py", "plot_dask_fit.py"}
# Examples that take more than 20 s: deselect them with -m "not slow".
SLOW = {"plot_outlier_detection_comparison.py"}
# Environment variables for examples whose full size is too large for a test.
ENVIRONMENT = {
    "plot_dask_scoring.py": {"NSIGMA_DASK_ROWS": "2000000"},
    "plot_dask_fit.py": {"NSIGMA_DASK_FIT_ROWS": "200000"},
    "plot_outlier_detection_comparison.py": {"NSIGMA_HELD_OUT_DIGITS": "2"},
}


def _params(names):
    paths = [path for path in EXAMPLES if path.name in names]
    return [
        pytest.param(
            path,
            id=path.name,
            marks=[pytest.mark.slow] if path.name in SLOW else [],
        )
        for path in paths
    ]


def _run_example(path, pyplot, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # anything an example writes lands here
    for name, value in ENVIRONMENT.get(path.name, {}).items():
        monkeypatch.setenv(name, value)
    shown = []
    monkeypatch.setattr(
        pyplot, "show", lambda *a, **k: shown.append(pyplot.get_fignums())
    )
    runpy.run_path(str(path), run_name="__main__")
    assert shown and shown[-1], f"{path.name} showed no figure"


@pytest.mark.parametrize("path", _params({path.name for path in EXAMPLES} - DASK))
def test_example_runs(path, pyplot, monkeypatch, tmp_path):
    """Check that an example runs to its end and draws at least one figure."""
    _run_example(path, pyplot, monkeypatch, tmp_path)


@pytest.mark.parametrize("path", _params(DASK))
def test_dask_example_runs(path, dask_client, pyplot, monkeypatch, tmp_path):
    """Check that a Dask example runs to its end and draws at least one figure.

    Its ``LocalCluster(...)`` is the suite's shared cluster (2 single-threaded
    worker processes, as the examples start): starting and stopping worker
    processes is most of an example's time at test size. The documentation
    build runs the examples as written, on their own clusters.
    """
    import dask.distributed

    @contextlib.contextmanager
    def shared_cluster(**kwargs):
        assert kwargs.get("n_workers") == len(dask_client.cluster.workers)
        assert kwargs.get("threads_per_worker") == 1
        yield dask_client.cluster  # its Client(cluster) leaves it open

    monkeypatch.setattr(dask.distributed, "LocalCluster", shared_cluster)
    _run_example(path, pyplot, monkeypatch, tmp_path)


def test_examples_are_found():
    """Check that the examples of the README are all there."""
    names = {path.name for path in EXAMPLES}
    assert {
        "plot_gmm_vs_kmeans.py",
        "plot_nsigma_vs_pdf.py",
        "plot_coverage_dimensions.py",
        "plot_outlier_pipeline.py",
    } <= names
    assert DASK | SLOW <= names


def test_readme_images_exist():
    """Check that every image the README shows is in doc/images."""
    root = Path(__file__).parent.parent
    images = re.findall(
        r"\(doc/images/([\w.-]+\.png)\)", (root / "README.md").read_text()
    )
    assert images
    for name in images:
        assert (root / "doc" / "images" / name).is_file(), name
