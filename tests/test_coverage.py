"""The sigma <-> coverage calibration."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_nsigma import coverage_to_sigma, sigma_to_coverage


@pytest.mark.parametrize(
    "n_features, expected",
    [
        (1, [0.682689, 0.954500, 0.997300]),
        (2, [0.393469, 0.864665, 0.988891]),
        (3, [0.198748, 0.738536, 0.970709]),
        (10, [0.000172, 0.052653, 0.467896]),
    ],
)
def test_sigma_to_coverage_known_values(n_features, expected):
    """Check the coverage of 1, 2, 3 sigma against published chi-square values."""
    assert_allclose(sigma_to_coverage([1, 2, 3], n_features), expected, atol=2e-6)


@pytest.mark.parametrize("n_features", [1, 2, 5, 10, 100])
def test_round_trip(n_features):
    """Check that coverage_to_sigma inverts sigma_to_coverage."""
    n_sigma = np.linspace(0.1, 6, 30)
    assert_allclose(
        coverage_to_sigma(sigma_to_coverage(n_sigma, n_features), n_features),
        n_sigma,
        rtol=1e-8,
    )


def test_scalars_in_scalars_out():
    """Check that scalars give Python floats and the edges are exact."""
    assert isinstance(sigma_to_coverage(2.0, 3), float)
    assert sigma_to_coverage(0, 3) == 0.0
    assert sigma_to_coverage(np.inf, 3) == 1.0
    assert coverage_to_sigma(0.0, 2) == 0.0
    assert coverage_to_sigma(1.0, 2) == np.inf


@pytest.mark.parametrize(
    "func, kwargs, error, match",
    [
        (
            sigma_to_coverage,
            dict(n_sigma=-1, n_features=2),
            InvalidParameterError,
            "n_sigma",
        ),
        (sigma_to_coverage, dict(n_sigma=True, n_features=2), TypeError, "n_sigma"),
        (sigma_to_coverage, dict(n_sigma=[1, -1], n_features=2), ValueError, "n_sigma"),
        (
            sigma_to_coverage,
            dict(n_sigma=[1, np.nan], n_features=2),
            ValueError,
            "n_sigma",
        ),
        (
            sigma_to_coverage,
            dict(n_sigma=1, n_features=0),
            InvalidParameterError,
            "n_features",
        ),
        (
            coverage_to_sigma,
            dict(coverage=1.5, n_features=2),
            InvalidParameterError,
            "coverage",
        ),
        (
            coverage_to_sigma,
            dict(coverage=[0.5, -0.1], n_features=2),
            ValueError,
            "coverage",
        ),
        (
            coverage_to_sigma,
            dict(coverage="0.9", n_features=2),
            InvalidParameterError,
            "coverage",
        ),
        (
            coverage_to_sigma,
            dict(coverage=0.9, n_features=2.5),
            InvalidParameterError,
            "n_features",
        ),
    ],
)
def test_errors_name_the_parameter(func, kwargs, error, match):
    """Check that bad arguments are refused with the parameter's name."""
    with pytest.raises(error, match=match):
        func(**kwargs)
