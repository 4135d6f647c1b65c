"""Lazy scoring of Dask arrays, on a real distributed LocalCluster."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_nsigma import NSigmaGaussianMixture

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


@pytest.fixture
def client(dask_client):
    """The shared LocalCluster of 2 worker processes (see conftest.py)."""
    return dask_client


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(size=(3000, 3)), rng.normal(5, 2, (3000, 3))])
    model = NSigmaGaussianMixture(n_components=2, random_state=0).fit(X)
    return model, X, da.from_array(X, chunks=(1000, 3))


@pytest.mark.parametrize(
    "method, kwargs",
    [
        ("mahalanobis", {}),
        ("tail_probability", {}),
        ("predict_within", {"n_sigma": 2.0}),
        ("predict_within", {"n_sigma": [1.0, 2.0], "per_component": True}),
    ],
)
def test_dask_results_identical_on_a_cluster(client, data, method, kwargs):
    """Check lazy results equal the in-memory ones, computed by 2 workers."""
    model, X, X_dask = data
    lazy = getattr(model, method)(X_dask, **kwargs)
    assert isinstance(lazy, da.Array)
    assert lazy.chunks[0] == X_dask.chunks[0]
    result = client.compute(lazy).result()
    assert_array_equal(result, getattr(model, method)(X, **kwargs))
    assert result.dtype == lazy.dtype


def test_float32_dask_stays_float32(client, data):
    """Check a float32 Dask array is scored in float32."""
    model, X, X_dask = data
    lazy = model.mahalanobis(X_dask.astype(np.float32))
    assert lazy.dtype == np.float32
    result = client.compute(lazy).result()
    assert result.dtype == np.float32
    assert_allclose(result, model.mahalanobis(X), rtol=1e-4)


def test_model_enters_the_graph_once(data):
    """Check the model is one graph key that every block task depends on."""
    model, _, X_dask = data
    graph = dict(model.predict_within(X_dask).__dask_graph__())
    model_keys = [
        key for key, node in graph.items() if getattr(node, "value", None) is model
    ]
    assert len(model_keys) == 1
    block_tasks = [
        node
        for key, node in graph.items()
        if isinstance(key, tuple) and key[0].startswith("_score_block")
    ]
    assert len(block_tasks) == len(X_dask.chunks[0]) == 6
    assert all(model_keys[0] in task.dependencies for task in block_tasks)


@pytest.mark.parametrize(
    "make_bad, error, match",
    [
        (lambda X: X.rechunk((1000, 1)), ValueError, r"rechunk\(\{1: -1\}\)"),
        (lambda X: X[:, :2], ValueError, "2 features"),
        (lambda X: X[:, 0], ValueError, "2D"),
        (lambda X: X.astype(str), TypeError, "real numbers"),
    ],
)
def test_bad_dask_input_fails_before_computing(data, make_bad, error, match):
    """Check shape, chunking and dtype errors are raised eagerly."""
    model, _, X_dask = data
    with pytest.raises(error, match=match):
        model.mahalanobis(make_bad(X_dask))


def test_nan_in_a_block_raises_at_compute(data):
    """Check a NaN in the data is refused when its block is computed."""
    model, X, _ = data
    X = X.copy()
    X[1500, 1] = np.nan
    lazy = model.predict_within(da.from_array(X, chunks=(1000, 3)))
    with pytest.raises(ValueError, match="NaN"):
        lazy.compute(scheduler="synchronous")


def test_bad_n_sigma_is_refused_eagerly(data):
    """Check n_sigma is validated before any graph is built."""
    model, _, X_dask = data
    with pytest.raises(ValueError, match="n_sigma"):
        model.predict_within(X_dask, n_sigma=0)


def test_dask_ml_parallel_post_fit(data):
    """Check the model works inside dask_ml's ParallelPostFit."""
    wrappers = pytest.importorskip("dask_ml.wrappers")
    model, X, X_dask = data
    wrapped = wrappers.ParallelPostFit(estimator=model)
    assert_array_equal(wrapped.predict(X_dask).compute(), model.predict(X))


@pytest.mark.parametrize(
    "method", ["score_samples", "decision_function", "predict", "transform"]
)
def test_detector_on_dask_matches_in_memory(client, data, method):
    """Check the detector's row-wise methods on a Dask array, on 2 workers."""
    from sklearn.frozen import FrozenEstimator

    from sklearn_nsigma import NSigmaOutlierDetector

    model, X, X_dask = data
    detector = NSigmaOutlierDetector(FrozenEstimator(model), n_sigma=2.0).fit(X)
    lazy = getattr(detector, method)(X_dask)
    assert isinstance(lazy, da.Array)
    expected = getattr(detector, method)(X)
    result = client.compute(lazy).result()
    if method == "predict":
        assert_array_equal(result, expected)
    else:  # blocks and the whole array may round differently in BLAS
        assert_allclose(result, expected, rtol=1e-12, atol=1e-14)
    assert result.dtype == expected.dtype


@pytest.mark.parametrize("per_component", [False, True])
def test_blocks_are_scored_without_a_copy(data, monkeypatch, per_component):
    """Check each block reaches the NumPy method as a view, not a copy."""
    import dask

    model, X, _ = data
    blocks = np.split(X, 6)
    X_dask = da.concatenate(
        [da.from_delayed(dask.delayed(b), b.shape, b.dtype) for b in blocks]
    )
    shares = []
    original = NSigmaGaussianMixture.predict_within

    def spy(self, block, *args, **kwargs):
        if isinstance(block, np.ndarray):
            shares.append(any(np.shares_memory(block, b) for b in blocks))
        return original(self, block, *args, **kwargs)

    monkeypatch.setattr(NSigmaGaussianMixture, "predict_within", spy)
    lazy = model.predict_within(X_dask, per_component=per_component)
    lazy.compute(scheduler="synchronous")
    assert len(shares) == len(blocks) and all(shares)


def test_mixture_predict_is_lazy_on_dask(client, data):
    """Check the mixture's predict scores a Dask array block by block."""
    model, X, X_dask = data
    lazy = model.predict(X_dask)
    assert isinstance(lazy, da.Array)
    assert lazy.chunks[0] == X_dask.chunks[0]
    assert_array_equal(client.compute(lazy).result(), model.predict(X))


@pytest.mark.parametrize("calibration", ["predictive", "none"])
def test_detector_contamination_on_dask(data, calibration):
    """Check contamination on a Dask array gives the in-memory threshold."""
    from sklearn.frozen import FrozenEstimator

    from sklearn_nsigma import NSigmaOutlierDetector

    model, X, X_dask = data
    # robust="auto" re-estimates the ellipsoids in memory only
    params = dict(contamination=0.05, calibration=calibration, robust=None)
    lazy = NSigmaOutlierDetector(FrozenEstimator(model), **params).fit(X_dask)
    eager = NSigmaOutlierDetector(FrozenEstimator(model), **params).fit(X)
    assert_allclose(lazy.threshold_, eager.threshold_, rtol=1e-12)
    flagged = (lazy.predict(X_dask) == -1).mean().compute()
    assert flagged == pytest.approx(0.05, abs=1 / len(X))
