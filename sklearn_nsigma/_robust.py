"""Robust re-estimation of a mixture's ellipsoids from its own core samples.

The reweighting step of the minimum covariance determinant (``MinCovDet``),
applied to each component of a fitted mixture and iterated to a fixed point:
every training sample is given to its most probable component, a component
keeps the samples inside the ``quantile`` of its chi-square law, and its mean
and covariance are re-estimated from them, the covariance scaled up for the
truncation. Samples beyond the quantile (the outliers among them) no longer
inflate the ellipsoid they are measured against.
"""

import numpy as np
from scipy.stats import chi2

from sklearn_nsigma._distance import MahalanobisKernel
from sklearn_nsigma._geometry import precisions_cholesky_from_covariances

MAX_ITERATIONS = 30


def covariances_from_factors(factors: np.ndarray, covariance_type: str) -> np.ndarray:
    """Covariances (in the layout of ``covariance_type``) from precision factors.

    Examples
    --------
    >>> import numpy as np
    >>> covariances_from_factors(np.array([0.5, 2.0]), "spherical")
    array([4.  , 0.25])
    """
    if covariance_type in ("diag", "spherical"):
        return 1.0 / np.square(factors)
    precisions = np.matmul(factors, np.swapaxes(factors, -1, -2))
    return np.linalg.inv(precisions)


def _log_determinants(factors: np.ndarray, covariance_type: str, n_features: int):
    """``log det`` of each component's precision Cholesky factor."""
    if covariance_type == "full":
        return np.log(np.abs(np.diagonal(factors, axis1=1, axis2=2))).sum(axis=1)
    if covariance_type == "tied":
        return np.log(np.abs(np.diagonal(factors))).sum()
    if covariance_type == "diag":
        return np.log(factors).sum(axis=1)
    return n_features * np.log(factors)


def robust_parameters(
    X: np.ndarray,
    means: np.ndarray,
    factors: np.ndarray,
    covariance_type: str,
    weights: np.ndarray,
    refit: np.ndarray,
    quantile: float,
    reg_covar: float = 1e-6,
):
    """Re-estimate the components flagged in ``refit`` from their core samples.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training samples (float64).

    means, factors : ndarray
        Means and precision Cholesky factors (``covariance_type`` layout).

    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        Layout of ``factors``, kept by the re-estimated covariances.

    weights : ndarray of shape (n_components,)
        Mixture weights, used to give each sample its most probable
        component.

    refit : ndarray of bool of shape (n_components,)
        The components to re-estimate; the others are kept as they are (and
        still take their samples).

    quantile : float
        Chi-square quantile, in (0, 1), of the samples a component keeps.

    reg_covar : float, default=1e-6
        Added to the diagonal of the re-estimated covariances.

    Returns
    -------
    means, factors : ndarray
        The re-estimated parameters, in the same layouts.

    n_used : ndarray of shape (n_components,)
        Number of samples each re-estimated component was computed from
        (``nan`` for the components kept as they were).

    n_iter : int
        Number of reweighting steps until the kept samples stopped changing.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(size=(500, 2)), rng.uniform(-20, 20, (50, 2))])
    >>> means, factors = X.mean(axis=0, keepdims=True), np.array([1 / X.std()])
    >>> means, factors, n_used, _ = robust_parameters(
    ...     X, means, factors, "spherical", np.ones(1), np.ones(1, bool), 0.975
    ... )
    >>> bool(abs(1 / factors[0] - 1.0) < 0.1)  # the standard deviation, not 5
    True
    """
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    means = np.array(means, dtype=np.float64)
    factors = np.array(factors, dtype=np.float64)
    covariances = covariances_from_factors(factors, covariance_type)
    cutoff = chi2.ppf(quantile, n_features)
    # E[x x^T | inside] = S * P(chi2_{d+2} <= cutoff) / quantile
    consistency = quantile / chi2.cdf(cutoff, n_features + 2)
    log_weights = np.log(np.maximum(weights, 1e-300))
    n_used = np.full(n_components, np.nan)
    previous = None
    n_iter = 0
    for n_iter in range(1, MAX_ITERATIONS + 1):  # noqa: B007
        squared = MahalanobisKernel(means, factors, covariance_type, "float64").squared(
            X
        )
        log_density = (
            log_weights
            + _log_determinants(factors, covariance_type, n_features)
            - 0.5 * squared
        )
        owner = np.argmax(log_density, axis=1)
        inside = squared[np.arange(n_samples), owner] <= cutoff
        keep = np.where(inside, owner, -1)
        if previous is not None and np.array_equal(keep, previous):
            break
        previous = keep
        pooled = np.zeros((n_features, n_features))
        pooled_count = 0.0
        for k in np.flatnonzero(refit):
            rows = X[keep == k]
            if rows.shape[0] <= n_features:
                continue
            mean = rows.mean(axis=0)
            centred = rows - mean
            scatter = centred.T @ centred / rows.shape[0] * consistency
            means[k] = mean
            n_used[k] = rows.shape[0]
            if covariance_type == "full":
                covariances[k] = scatter + reg_covar * np.eye(n_features)
            elif covariance_type == "diag":
                covariances[k] = np.diag(scatter) + reg_covar
            elif covariance_type == "spherical":
                covariances[k] = np.mean(np.diag(scatter)) + reg_covar
            else:
                pooled += scatter * rows.shape[0]
                pooled_count += rows.shape[0]
        if covariance_type == "tied" and pooled_count > 0:
            covariances = pooled / pooled_count + reg_covar * np.eye(n_features)
        factors = precisions_cholesky_from_covariances(covariances, covariance_type)
    return means, factors, n_used, n_iter
