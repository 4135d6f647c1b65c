"""Calibration between Mahalanobis radii ("sigmas") and probability mass.

For a d-dimensional Gaussian, the squared Mahalanobis distance of a sample to
the mean follows a chi-square distribution with d degrees of freedom. The mass
inside the n-sigma ellipsoid is therefore ``chi2.cdf(n**2, d)``: 68.3 % for
n = 1 in 1-D, but only 39.3 % in 2-D and 0.02 % in 10-D.
"""

from numbers import Real

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import chi2

from sklearn_nsigma._compat import validate_params
from sklearn_nsigma._validation import (
    N_FEATURES,
    NON_NEGATIVE,
    StrictInterval,
    check_n_sigma,
    check_real_array,
)

_PROBABILITY = StrictInterval(Real, 0, 1, closed="both")


def _scalar_or_array(array: np.ndarray) -> float | np.ndarray:
    return float(array) if array.ndim == 0 else array


@validate_params(
    {
        "n_sigma": ["array-like", NON_NEGATIVE],
        "n_features": [N_FEATURES],
    },
    prefer_skip_nested_validation=True,
)
def sigma_to_coverage(n_sigma: ArrayLike, n_features: int) -> float | np.ndarray:
    """Probability mass inside the n-sigma ellipsoid of a Gaussian.

    Returns ``chi2.cdf(n_sigma**2, n_features)``: the probability that a
    sample of a ``n_features``-dimensional Gaussian lies within Mahalanobis
    distance ``n_sigma`` of its mean.

    Parameters
    ----------
    n_sigma : float or array-like of float
        Mahalanobis radius (or radii), non-negative. ``np.inf`` gives 1.

    n_features : int
        Dimension of the Gaussian (degrees of freedom of the chi-square
        distribution).

    Returns
    -------
    coverage : float or ndarray
        Probability mass inside the ellipsoid, of the same shape as
        ``n_sigma``.

    See Also
    --------
    coverage_to_sigma : The inverse function.

    Notes
    -----
    The familiar "68-95-99.7 rule" holds in one dimension only. In 2-D the
    1, 2 and 3-sigma ellipses hold 39.3 %, 86.5 % and 98.9 % of the mass; in
    10-D the 3-sigma ellipsoid holds 46.8 %.

    Examples
    --------
    >>> from sklearn_nsigma import sigma_to_coverage
    >>> round(sigma_to_coverage(3, 1), 4)
    0.9973
    >>> sigma_to_coverage([1, 2, 3], 2).round(3)
    array([0.393, 0.865, 0.989])
    """
    n_sigma = np.asarray(check_n_sigma(n_sigma, allow_zero_and_inf=True))
    return _scalar_or_array(chi2.cdf(np.square(n_sigma), n_features))


@validate_params(
    {
        "coverage": ["array-like", _PROBABILITY],
        "n_features": [N_FEATURES],
    },
    prefer_skip_nested_validation=True,
)
def coverage_to_sigma(coverage: ArrayLike, n_features: int) -> float | np.ndarray:
    """Compute the radius whose ellipsoid holds a given probability mass.

    Returns ``sqrt(chi2.ppf(coverage, n_features))``, the inverse of
    :func:`sigma_to_coverage`.

    Parameters
    ----------
    coverage : float or array-like of float
        Probability mass in ``[0, 1]``. ``1`` gives ``np.inf``.

    n_features : int
        Dimension of the Gaussian.

    Returns
    -------
    n_sigma : float or ndarray
        Mahalanobis radius, of the same shape as ``coverage``.

    See Also
    --------
    sigma_to_coverage : The inverse function.

    Examples
    --------
    >>> from sklearn_nsigma import coverage_to_sigma, sigma_to_coverage
    >>> round(coverage_to_sigma(0.9973, 1), 3)
    3.0
    >>> # the radius holding the 1-D 3-sigma mass in 10 dimensions
    >>> round(coverage_to_sigma(sigma_to_coverage(3, 1), 10), 2)
    5.19
    """
    coverage = check_real_array(coverage, "coverage", _PROBABILITY)
    return _scalar_or_array(np.sqrt(chi2.ppf(coverage, n_features)))


# -- Observed coverage, as CoverageDisplay draws it --------------------------------
def coverage_curves(
    distances: ArrayLike,
    responsibilities: ArrayLike,
    n_sigma: ArrayLike,
) -> tuple[np.ndarray, np.ndarray]:
    """Responsibility-weighted fraction of samples within n sigma, per component.

    For component ``k`` and radius ``n``, the observed coverage is
    ``sum_i r_ik [d_ik <= n] / sum_i r_ik`` where ``r_ik`` is the
    responsibility (posterior probability) of component ``k`` for sample
    ``i``. For a Gaussian component it follows ``chi2.cdf(n**2, n_features)``
    (see :func:`~sklearn_nsigma.sigma_to_coverage`).

    Parameters
    ----------
    distances : array-like of shape (n_samples, n_components)
        Mahalanobis distances of the samples to the components.

    responsibilities : array-like of shape (n_samples, n_components)
        Posterior probabilities (``predict_proba``); hard assignments (0/1)
        work too.

    n_sigma : array-like of shape (n_levels,)
        Radii at which to evaluate the coverage.

    Returns
    -------
    observed : ndarray of shape (n_components, n_levels)
        Weighted fraction of samples within each radius. NaN for a component
        with no responsibility.

    effective_n : ndarray of shape (n_components,)
        ``sum_i r_ik``, the effective number of samples of each component.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nsigma._coverage import coverage_curves
    >>> distances = np.array([[0.5], [1.5], [2.5], [3.5]])
    >>> observed, n_eff = coverage_curves(distances, np.ones((4, 1)), [1, 2, 3])
    >>> observed, n_eff
    (array([[0.25, 0.5 , 0.75]]), array([4.]))
    """
    distances = np.asarray(distances, dtype=np.float64)
    responsibilities = np.asarray(responsibilities, dtype=np.float64)
    levels = np.asarray(n_sigma, dtype=np.float64).ravel()
    if distances.shape != responsibilities.shape or distances.ndim != 2:
        raise ValueError(
            "distances and responsibilities must both have shape (n_samples, "
            f"n_components), got {distances.shape} and {responsibilities.shape}."
        )
    effective_n = responsibilities.sum(axis=0)
    # Sort each component's distances once; cumulative responsibilities then
    # give the weighted fraction at every level with one searchsorted.
    order = np.argsort(distances, axis=0, kind="stable")
    sorted_distances = np.take_along_axis(distances, order, axis=0)
    cumulative = np.cumsum(np.take_along_axis(responsibilities, order, axis=0), axis=0)
    cumulative = np.vstack([np.zeros((1, distances.shape[1])), cumulative])
    observed = np.empty((distances.shape[1], levels.size))
    for k in range(distances.shape[1]):
        counts = np.searchsorted(sorted_distances[:, k], levels, side="right")
        with np.errstate(invalid="ignore", divide="ignore"):
            observed[k] = cumulative[counts, k] / effective_n[k]
    return observed, effective_n
