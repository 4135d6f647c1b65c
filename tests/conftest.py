import contextlib
import os

import numpy as np
import pytest


def pytest_configure(config):
    # Draw figures off-screen in every test and example that plots.
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def global_dtype(request):
    """The float dtypes scikit-learn's own mixture tests run with."""
    return request.param


@pytest.fixture(params=[42])
def global_random_seed(request):
    """The seed fixture of scikit-learn's own test suite (one seed here)."""
    return request.param


# The shared cluster closes after the last test that uses it, not at the end
# of the session: idle worker processes and the scheduler thread keep using
# CPU (heartbeats), about a tenth of a core, for as long as they run.
_LAST_DASK_TEST = pytest.StashKey()
_CLOSE_DASK_CLUSTER = pytest.StashKey()


@pytest.fixture(scope="session")
def dask_client(request):
    """A real LocalCluster of 2 single-threaded worker processes, shared.

    Started once, by the first test that asks for it, and closed once the
    last test that asks for it is done.
    """
    distributed = pytest.importorskip("distributed")
    with contextlib.ExitStack() as stack:
        cluster = stack.enter_context(
            distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                worker_dashboard_address=None,
            )
        )
        client = stack.enter_context(distributed.Client(cluster, set_as_default=False))
        request.config.stash[_CLOSE_DASK_CLUSTER] = stack.close
        yield client


def pytest_collection_finish(session):
    users = [
        item
        for item in session.items
        if "dask_client" in getattr(item, "fixturenames", ())
    ]
    session.config.stash[_LAST_DASK_TEST] = users[-1].nodeid if users else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    if item.nodeid == item.config.stash.get(_LAST_DASK_TEST, None):
        close = item.config.stash.get(_CLOSE_DASK_CLUSTER, None)
        if close is not None:
            close()  # the fixture's own teardown then has nothing left to do


@pytest.fixture
def pyplot():
    """Agg pyplot, with all figures closed before and after the test."""
    pyplot = pytest.importorskip("matplotlib.pyplot")
    pyplot.close("all")
    yield pyplot
    pyplot.close("all")


# Tests of scikit-learn's own suite that fail the same way on scikit-learn's
# GaussianMixture with the newest releases, so not on account of the
# subclass. Not strict: they depend on the LAPACK build.
UPSTREAM_FAILURES = {
    "test_fitted_precision_covariance_concistency[float32-tied]": (
        "scikit-learn 1.9.1's own test fails on GaussianMixture in float32 "
        "(SciPy 1.17): inv(precisions_) and covariances_ differ by 2e-6, "
        "beyond its 6-decimal check"
    ),
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        reason = UPSTREAM_FAILURES.get(item.name)
        if reason and item.module.__name__.endswith("gaussian_mixture_suite"):
            item.add_marker(pytest.mark.xfail(reason=reason, strict=False))


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """Run the command line's ``main(argv)`` in-process in tmp_path.

    Quiet (``-q``) unless ``-v`` is given; returns (status, stdout, stderr).
    """
    from sklearn_nsigma._cli import main

    monkeypatch.chdir(tmp_path)

    def run(*args):
        argv = [str(a) for a in args]
        if "-v" not in argv:
            argv.append("-q")
        try:
            status = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            status = exc.code
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run
