"""How the detector fits its mixture: cached, frozen or on Dask, all or nothing."""

from contextlib import contextmanager

import numpy as np
from sklearn import config_context
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils import gen_batches
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
# Rows per pass of feature_standardization (float64 temporaries of this many rows).
_STANDARDIZATION_ROWS = 65536
# Rows, taken evenly from all of X, whose distinct values give each
# feature's quantum (rounding_variances).
_QUANTUM_ROWS = 100_000


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


def fit_mixture(estimator, X, y, memory, random_state=None):
    """A frozen ``estimator`` as it is, else a fitted clone (cached by ``memory``).

    With ``estimator=None``, the :func:`default_mixture`, fitted on the
    features shifted and scaled to mean 0 and variance 1
    (:func:`feature_standardization`), its parameters then expressed in
    X's units (:func:`unstandardize_mixture`): its regularisation
    (``reg_covar``) is relative to each feature's variance, and the fit
    does not depend on the units of the features.
    """
    if isinstance(estimator, FrozenEstimator):
        return fit_estimator(estimator, X, y)
    if estimator is not None:
        return check_memory(memory).cache(fit_estimator)(clone(estimator), X, y)
    estimator = default_mixture(X.shape[0], random_state)
    return check_memory(memory).cache(fit_standardized)(estimator, X, y)


def fit_standardized(estimator, X, y):
    """Fit ``estimator`` on X's standardised features; return it in X's units.

    A module-level function, so that :class:`joblib.Memory` caches the
    mixture as it is returned (in X's units).
    """
    shift, scale = feature_standardization(X)
    standardized = X - shift.astype(X.dtype)
    standardized /= scale.astype(X.dtype)
    # no component narrower than rounding to each feature's quantum
    estimator._variance_floor = rounding_variances(X, scale)
    fitted = fit_estimator(estimator, standardized, y)
    del fitted._variance_floor
    return unstandardize_mixture(fitted, shift, scale)


def rounding_variances(X, scale) -> np.ndarray:
    """Per feature, the variance ``(q / scale)**2 / 12`` of rounding to its quantum.

    ``q`` is the smallest gap between the distinct values of the feature
    among :data:`_QUANTUM_ROWS` rows taken evenly from all of X: 1 for
    counts or ratings, and so small for measured values that the variance
    is negligible. It is given in units of ``scale`` (each feature's
    standardisation scale), so that it neither underflows nor overflows in
    tiny or huge units. A Gaussian component cannot be narrower than that
    along a discrete feature; without this floor, the mixture gives each
    value of a rated feature its own flat component, and the rows of a rare
    value are all flagged. 0 for a constant feature.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.5], [2.0, 0.25], [4.0, 0.5]])
    >>> rounding_variances(X, np.ones(2))
    array([0.08333333, 0.00520833])
    """
    step = -(-X.shape[0] // _QUANTUM_ROWS)  # ceil: rows from all of X
    sample = X[::step]
    if is_dask_array(sample):
        sample = sample.compute()
    sample = np.sort(np.asarray(sample, dtype=np.float64), axis=0)
    gaps = np.diff(sample, axis=0)
    gaps[gaps <= 0] = np.inf
    quanta = gaps.min(axis=0, initial=np.inf)
    quanta[~np.isfinite(quanta)] = 0.0
    return np.square(quanta / scale) / 12.0


def feature_standardization(X) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature ``(shift, scale)``: the mean and standard deviation of X.

    Computed in float64 on X divided by each feature's largest magnitude,
    so that features near the largest double do not overflow; the scale of
    a constant feature is its magnitude (1 if it is 0). A Dask array's are
    computed where it lives.

    Examples
    --------
    >>> import numpy as np
    >>> shift, scale = feature_standardization(np.array([[1e-9, 5.0], [3e-9, 5.0]]))
    >>> shift, scale
    (array([2.e-09, 5.e+00]), array([1.e-09, 5.e+00]))
    """
    if is_dask_array(X):
        import dask

        peak = np.asarray(abs(X).max(axis=0).compute(), dtype=np.float64)
        peak[peak == 0] = 1.0
        unit = X.astype(np.float64) / peak
        mean, std = dask.compute(unit.mean(axis=0), unit.std(axis=0))
    else:
        peak = np.maximum(X.max(axis=0), -X.min(axis=0)).astype(np.float64)
        peak[peak == 0] = 1.0
        n_samples = X.shape[0]
        batches = list(gen_batches(n_samples, _STANDARDIZATION_ROWS))
        mean = sum(np.sum(X[batch] / peak, axis=0) for batch in batches) / n_samples
        squares = np.zeros_like(mean)
        for batch in batches:
            centred = X[batch] / peak - mean
            squares += np.einsum("ij,ij->j", centred, centred)
        std = np.sqrt(squares / n_samples)
    shift = np.asarray(mean) * peak
    scale = np.asarray(std) * peak
    # a constant feature's own magnitude (1 for zeros): the regularisation
    # then tolerates a relative change of about 1e-3, whatever its units
    scale = np.where(scale > 0, scale, peak)
    return shift, scale


def unstandardize_mixture(mixture, shift: np.ndarray, scale: np.ndarray):
    """Express, in place, a mixture fitted on ``(X - shift) / scale`` in X's units.

    A Gaussian component N(m, S) of the standardised features is
    N(shift + D m, D S D) of X, ``D = diag(scale)``; the precision Cholesky
    factors become ``D^-1 L``. A Bayesian mixture's priors on the means and
    covariances move with them (its ``lower_bound_`` stays the one of the
    fit). 'spherical' components are not spherical in X's units, and are
    refused.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture
    >>> X = np.random.RandomState(0).normal(size=(200, 2)) * [1e-6, 1e6]
    >>> shift, scale = feature_standardization(X)
    >>> fitted = GaussianMixture(random_state=0).fit((X - shift) / scale)
    >>> mixture = unstandardize_mixture(fitted, shift, scale)
    >>> np.allclose(mixture.covariances_[0], np.cov(X.T, bias=True), rtol=1e-5)
    True
    """
    covariance_type = mixture.covariance_type
    if covariance_type == "spherical":
        raise ValueError(
            "A spherical mixture fitted on standardised features cannot be "
            "expressed in the data's units."
        )
    if covariance_type in ("full", "tied"):
        variance = np.outer(scale, scale)
        factor = scale[:, np.newaxis]
    else:
        variance, factor = np.square(scale), scale

    def rescaled(array, multiplier, offset=0.0):
        array = np.asarray(array)
        return (array * multiplier + offset).astype(array.dtype)

    mixture.means_ = rescaled(mixture.means_, scale, shift)
    # In units near the ends of the doubles (scales below 1e-154, say) the
    # covariances underflow and the precisions overflow, as they would if
    # fitted there; the Cholesky factors, which the distances use, do not.
    with np.errstate(under="ignore", over="ignore", divide="ignore"):
        mixture.covariances_ = rescaled(mixture.covariances_, variance)
        mixture.precisions_ = rescaled(mixture.precisions_, 1.0 / variance)
    mixture.precisions_cholesky_ = rescaled(mixture.precisions_cholesky_, 1.0 / factor)
    if hasattr(mixture, "mean_prior_"):
        mixture.mean_prior_ = rescaled(mixture.mean_prior_, scale, shift)
        mixture.covariance_prior_ = rescaled(mixture.covariance_prior_, variance)
    if hasattr(mixture, "ellipsoid_params_"):
        mixture.ellipsoid_params_ = mixture._compute_ellipsoid_params()
    return mixture


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

    Returns the new view, its :class:`~sklearn_nsigma._robust.RobustEstimates`,
    the eligible components (decided after the merges, background ones left
    out) and the number of iterations.
    """
    if is_dask_array(X):
        raise ValueError(
            f"robust={robust!r} re-estimates the ellipsoids in memory; a Dask "
            "array is not supported with it: use robust=None or pass a NumPy "
            "array."
        )
    # the mixture's reg_covar relative to each feature's variance, so that
    # the re-estimation does not depend on the units of the features, and at
    # least the variance of rounding to each feature's quantum
    reg_covar = float(getattr(unfreeze(mixture), "reg_covar", 1e-6))
    scale = feature_standardization(X)[1]
    reg_covar = np.square(scale) * np.maximum(reg_covar, rounding_variances(X, scale))
    means, factors, estimates, eligible, n_iter = robust_parameters(
        np.asarray(X, dtype=np.float64),
        fitted.means,
        fitted.precisions_cholesky,
        fitted.covariance_type,
        fitted.weights,
        min_weight,
        float(robust),
        reg_covar,
    )
    robust_fitted = fitted.with_parameters(means, factors)
    # Building the kernel checks that every factor is finite and invertible.
    robust_fitted.kernel(np.float64)
    return robust_fitted, estimates, eligible, n_iter
