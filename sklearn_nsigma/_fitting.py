"""How the detector fits its mixture: cached, frozen or on Dask, all or nothing."""

from contextlib import contextmanager

import numpy as np
from sklearn import config_context
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_memory, validate_data

from sklearn_nsigma._compat import _is_numpy_namespace, get_namespace, move_to
from sklearn_nsigma._dask import is_dask_array
from sklearn_nsigma._dask_fit import fit_dask, validate_dask_data
from sklearn_nsigma._fitted import FittedMixture, unfreeze
from sklearn_nsigma._mixture import NSigmaBayesianGaussianMixture
from sklearn_nsigma._robust import robust_parameters

# Components of the default BayesianGaussianMixture: an upper bound (the
# Dirichlet process prior leaves the ones the data does not need empty).
DEFAULT_N_COMPONENTS = 10
# The default mixture's convergence tolerance, per training sample: scikit-
# learn's Bayesian lower bound is a sum over the samples (GaussianMixture's
# is a mean), so its own tol=1e-3 is hardly ever met on large data, and the
# fit ran its 100 iterations and warned that it did not converge.
DEFAULT_TOL_PER_SAMPLE = 1e-3


def default_mixture(n_samples: int, random_state) -> NSigmaBayesianGaussianMixture:
    """The detector's mixture when none is given, for ``n_samples`` samples.

    Examples
    --------
    >>> default_mixture(3000, random_state=0)
    NSigmaBayesianGaussianMixture(n_components=10, random_state=0, tol=3.0)
    """
    return NSigmaBayesianGaussianMixture(
        n_components=DEFAULT_N_COMPONENTS,
        tol=DEFAULT_TOL_PER_SAMPLE * n_samples,
        random_state=random_state,
    )


def validate_training_data(estimator, X):
    """The training ``X`` validated for ``estimator``: on the host, or lazy Dask."""
    xp, _ = get_namespace(X)
    if is_dask_array(X):
        return validate_dask_data(estimator, X)
    X = validate_data(estimator, X, dtype=[xp.float64, xp.float32])
    if not _is_numpy_namespace(xp):
        X = move_to(X, xp=np, device="cpu")
    return X


def fit_estimator(estimator, X, y):
    """Fit ``estimator`` on NumPy ``(X, y)``.

    A module-level function, so that :class:`joblib.Memory` can cache it.
    Array API dispatch is turned off: the detector works on NumPy arrays,
    and GaussianMixture's k-means init refuses to run with it on.
    """
    if is_dask_array(X) and not isinstance(estimator, FrozenEstimator):
        return fit_dask(estimator, X, y)  # EM where the blocks live
    with config_context(array_api_dispatch=False):
        return estimator.fit(X, y)


def fit_mixture(estimator, X, y, memory):
    """A frozen ``estimator`` as it is, else a fitted clone (cached by ``memory``)."""
    if isinstance(estimator, FrozenEstimator):
        return fit_estimator(estimator, X, y)
    cached_fit = check_memory(memory).cache(fit_estimator)
    return cached_fit(clone(estimator), X, y)


@contextmanager
def unchanged_on_error(estimator):
    """Restore every attribute of ``estimator`` if the block raises.

    ``validate_data`` resets ``feature_names_in_`` before it checks ``X``;
    this keeps a failed ``fit`` from leaving a half-changed estimator.
    """
    state = dict(estimator.__dict__)
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(state)
        raise


def robust_view(X, fitted: FittedMixture, min_weight: float, mixture, robust: float):
    """``fitted`` with robustly re-estimated ellipsoids.

    Returns the new view, the number of samples of each re-estimated
    component (NaN for the others), the eligible components (decided after
    the merges, background ones left out) and the number of iterations.
    """
    if is_dask_array(X):
        raise ValueError(
            f"robust={robust!r} re-estimates the ellipsoids in memory; a Dask "
            "array is not supported with it: use robust=None or pass a NumPy "
            "array."
        )
    means, factors, n_used, eligible, n_iter = robust_parameters(
        np.asarray(X, dtype=np.float64),
        fitted.means,
        fitted.precisions_cholesky,
        fitted.covariance_type,
        fitted.weights,
        min_weight,
        float(robust),
        float(getattr(unfreeze(mixture), "reg_covar", 1e-6)),
    )
    robust_fitted = fitted.with_parameters(means, factors)
    # Building the kernel checks that every factor is finite and invertible.
    robust_fitted.kernel(np.float64)
    return robust_fitted, n_used, eligible, n_iter
