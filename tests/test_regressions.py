"""Regression tests: inputs that once gave a wrong answer or an unclear error."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sklearn_nsigma import ellipsoid_params
from sklearn_nsigma._geometry import precisions_cholesky_from_covariances


# -- ellipsoid_params ---------------------------------------------------------
@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_ellipsoid_params_refuses_a_non_symmetric_covariance(covariance_type):
    """Check [[4, 3], [0, 1]] is refused, naming the component.

    It once gave radii [2, 1], as if the 3 were not there.
    """
    good = np.array([[2.0, 0.5], [0.5, 1.0]])
    bad = np.array([[4.0, 3.0], [0.0, 1.0]])
    if covariance_type == "full":
        covariances, means, match = np.stack([good, bad]), np.zeros((2, 2)), r"\[1\]"
    else:
        covariances, means, match = bad, np.zeros((2, 2)), "The tied covariance"
    with pytest.raises(ValueError, match=f"{match}.*not symmetric"):
        ellipsoid_params(means, covariances, covariance_type)
    with pytest.raises(ValueError, match=f"{match}.*not symmetric"):
        precisions_cholesky_from_covariances(covariances, covariance_type)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ellipsoid_params_accepts_rounding_asymmetry(dtype):
    """Check a covariance symmetric up to rounding is accepted as it is."""
    rng = np.random.RandomState(0)
    A = rng.normal(size=(3, 4, 4))
    covariances = (A @ A.transpose(0, 2, 1) + np.eye(4)).astype(dtype)
    noise = 1 + 10 * np.finfo(dtype).eps * rng.uniform(-1, 1, size=covariances.shape)
    jittered = (covariances * noise).astype(dtype)
    assert (jittered != jittered.transpose(0, 2, 1)).any()
    params = ellipsoid_params(np.zeros((3, 4), dtype), jittered, "full")
    expected = ellipsoid_params(np.zeros((3, 4), dtype), covariances, "full")
    assert_allclose(params.radii, expected.radii, rtol=1e-4)


@pytest.mark.parametrize(
    "covariance_type, covariances",
    [
        ("full", np.zeros((2, 0, 0))),
        ("tied", np.zeros((0, 0))),
        ("diag", np.zeros((2, 0))),
        ("spherical", np.ones(2)),
    ],
)
def test_ellipsoid_params_refuses_zero_features(covariance_type, covariances):
    """Check a clear error for means of 0 features, not a NumPy reduction's."""
    with pytest.raises(ValueError, match="at least one feature"):
        ellipsoid_params(np.zeros((2, 0)), covariances, covariance_type)
