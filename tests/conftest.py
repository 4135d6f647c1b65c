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


@pytest.fixture
def pyplot():
    """Agg pyplot, with all figures closed before and after the test."""
    pyplot = pytest.importorskip("matplotlib.pyplot")
    pyplot.close("all")
    yield pyplot
    pyplot.close("all")
