"""The new methods under scikit-learn's array API dispatch."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context

from sklearn_nsigma import NSigmaGaussianMixture

COVARIANCE_TYPE = ["full", "tied", "diag", "spherical"]


def _to_numpy(array):
    if hasattr(array, "cpu"):  # torch
        return array.cpu().numpy()
    return np.asarray(array)


@pytest.mark.parametrize("namespace", ["array_api_strict", "torch"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
def test_array_api_round_trip(namespace, covariance_type):
    """Check results, namespaces and devices with array API inputs."""
    xp = pytest.importorskip(namespace)
    X = np.random.RandomState(0).normal(size=(200, 3))
    params = dict(
        n_components=2,
        covariance_type=covariance_type,
        init_params="random_from_data",
        random_state=0,
    )
    reference = NSigmaGaussianMixture(**params).fit(X)
    X_xp = xp.asarray(X)
    with config_context(array_api_dispatch=True):
        model = NSigmaGaussianMixture(**params).fit(X_xp)
        distances = model.mahalanobis(X_xp)
        inside = model.predict_within(X_xp, 1.5)
        per_component = model.predict_within(X_xp, [1.0, 2.0], per_component=True)
        p_values = model.tail_probability(X_xp)
    module = type(X_xp).__module__.split(".")[0]
    for result in (distances, inside, per_component, p_values):
        assert type(result).__module__.split(".")[0] == module
        assert result.device == X_xp.device
    params_xp = model.ellipsoid_params_
    assert type(params_xp.radii).__module__.split(".")[0] == module
    assert_allclose(_to_numpy(distances), reference.mahalanobis(X), rtol=1e-10)
    assert_array_equal(_to_numpy(inside), reference.predict_within(X, 1.5))
    assert_array_equal(
        _to_numpy(per_component),
        reference.predict_within(X, [1.0, 2.0], per_component=True),
    )
    assert_allclose(_to_numpy(p_values), reference.tail_probability(X), rtol=1e-10)
    assert_allclose(
        _to_numpy(params_xp.radii), reference.ellipsoid_params_.radii, rtol=1e-10
    )


def test_other_namespace_than_fit_is_refused():
    """Check predict_within refuses numpy X for a model fitted on another namespace."""
    xp = pytest.importorskip("array_api_strict")
    X = np.random.RandomState(0).normal(size=(50, 2))
    with config_context(array_api_dispatch=True):
        model = NSigmaGaussianMixture(init_params="random_from_data").fit(xp.asarray(X))
        for method in ("mahalanobis", "predict_within", "predict"):
            with pytest.raises(ValueError, match=f"{method}.*same namespace"):
                getattr(model, method)(X)


def test_array_api_path_is_chunked(monkeypatch):
    """Check the generic path gives the same answers over many row chunks."""
    xp = pytest.importorskip("array_api_strict")
    import sklearn_nsigma._distance as distance

    X = np.random.RandomState(0).normal(size=(1000, 3))
    model = NSigmaGaussianMixture(n_components=3, random_state=0).fit(X)
    monkeypatch.setattr(distance, "_CHUNK_BYTES", 1)  # 16 * 16-row chunks
    kernel = model._distance_kernel(X)
    assert distance._XP_CHUNK_FACTOR * kernel.chunk_rows(1000) < 1000
    X_xp = xp.asarray(X)
    with config_context(array_api_dispatch=True):
        distances = kernel.distances(X_xp)
        nearest = kernel.min_scaled(X_xp, [1.0, np.inf, 0.25])
        inside = kernel.within(X_xp, np.full(3, 4.0))
    reference = model.mahalanobis(X)
    assert_allclose(np.asarray(distances), reference, rtol=1e-12)
    assert_allclose(
        np.asarray(nearest),
        np.minimum(reference[:, 0] ** 2, 0.25 * reference[:, 2] ** 2),
        rtol=1e-12,
    )
    assert_array_equal(np.asarray(inside), (reference <= 2).any(axis=1))


@pytest.mark.parametrize("namespace", ["array_api_strict", "torch"])
def test_detector_scores_array_api_inputs(namespace):
    """Check the detector scores array API inputs in their own namespace."""
    xp = pytest.importorskip(namespace)
    from sklearn_nsigma import NSigmaOutlierDetector

    X = np.random.RandomState(0).normal(size=(300, 3))
    detector = NSigmaOutlierDetector(
        NSigmaGaussianMixture(n_components=2, random_state=0), n_sigma=2.0
    ).fit(X)
    X_xp = xp.asarray(X)
    module = type(X_xp).__module__.split(".")[0]
    with config_context(array_api_dispatch=True):
        refitted = NSigmaOutlierDetector(
            NSigmaGaussianMixture(n_components=2, random_state=0), n_sigma=2.0
        ).fit(X_xp)
        for method in ("score_samples", "decision_function", "predict", "transform"):
            result = getattr(detector, method)(X_xp)
            assert type(result).__module__.split(".")[0] == module
            assert_allclose(_to_numpy(result), getattr(detector, method)(X), rtol=1e-10)
    assert_allclose(refitted.offset_, detector.offset_)
    assert_allclose(refitted.score_samples(X), detector.score_samples(X))
    assert not detector.__sklearn_tags__().array_api_support
