"""The new methods under scikit-learn's array API dispatch."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context

from sklearn_nsigma import NSigmaGaussianMixture

COVARIANCE_TYPE = ["full", "tied", "diag", "spherical"]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
def test_array_api_strict_round_trip(covariance_type):
    """Check results and namespaces with array-api-strict inputs."""
    xp = pytest.importorskip("array_api_strict")
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
    for result in (distances, inside, per_component, p_values):
        assert type(result).__module__.startswith("array_api_strict")
    params_xp = model.ellipsoid_params_
    assert type(params_xp.radii).__module__.startswith("array_api_strict")
    assert_allclose(np.asarray(distances), reference.mahalanobis(X), rtol=1e-10)
    assert_array_equal(np.asarray(inside), reference.predict_within(X, 1.5))
    assert_array_equal(
        np.asarray(per_component),
        reference.predict_within(X, [1.0, 2.0], per_component=True),
    )
    assert_allclose(np.asarray(p_values), reference.tail_probability(X), rtol=1e-10)
    assert_allclose(
        np.asarray(params_xp.radii), reference.ellipsoid_params_.radii, rtol=1e-10
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
