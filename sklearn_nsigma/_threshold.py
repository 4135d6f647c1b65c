"""The detector's threshold: which parameter sets it, and what it means.

Pure functions of a fitted mixture's parameters: the finite-sample law of
each component under a ``calibration`` (:func:`calibration_laws`), the raw
radius of each component's threshold ellipsoid (:func:`threshold_radii`),
and the score of samples in equivalent one-dimensional sigmas
(:func:`calibrated_sigmas`). The formulas are in the Notes of
:class:`~sklearn_nsigma.NSigmaOutlierDetector`.
"""

import numpy as np
from sklearn.mixture import BayesianGaussianMixture

from sklearn_nsigma._calibration import (
    approximate_squared_radii,
    coverage_to_equivalent_sigma,
    hotelling_form,
    log_tail,
    log_tail_to_sigma,
    reference_form,
    squared_radius,
)
from sklearn_nsigma._coverage import coverage_to_sigma
from sklearn_nsigma._fitted import unfreeze

DEFAULT_N_SIGMA = 3.0
CALIBRATIONS = ("none", "chi2", "predictive")
# Rows of X scored at once by the predictive calibration.
_SCORE_ROWS = 65536
# Sigma levels that bracket each sample's score under every component, so
# that only the components that may hold its largest tail probability are
# evaluated exactly; from this many rows on (below, every one is).
_BRACKET_SIGMAS = np.r_[np.arange(0.0, 20.0, 0.125), np.arange(20.0, 36.0, 0.5)]
_MIN_BRACKETED_ROWS = 64


def check_one_threshold(estimator) -> None:
    """Refuse thresholds that would override one another.

    ``coverage`` and ``contamination`` replace ``n_sigma``: setting one of
    them with ``n_sigma`` away from its default (or both of them) is an
    error, so that a search over ``n_sigma`` can never be silently inert.
    """
    name = type(estimator).__name__
    coverage, contamination = estimator.coverage, estimator.contamination
    if coverage is not None and contamination is not None:
        raise ValueError(
            f"{name} takes one threshold: coverage={coverage!r} and "
            f"contamination={contamination!r} are both set; set one of them "
            "to None."
        )
    replacing = "coverage" if coverage is not None else "contamination"
    value = getattr(estimator, replacing)
    if value is not None and estimator.n_sigma != DEFAULT_N_SIGMA:
        raise ValueError(
            f"{name} takes one threshold: {replacing}={value!r} replaces "
            f"n_sigma, so n_sigma must stay at its default {DEFAULT_N_SIGMA}, "
            f"got n_sigma={estimator.n_sigma!r}. Search either n_sigma (with "
            f"{replacing}=None) or {replacing}."
        )


def is_bayesian(mixture) -> bool:
    """Whether the mixture carries a Normal-Wishart posterior (Student-t form)."""
    mixture = unfreeze(mixture)
    return isinstance(mixture, BayesianGaussianMixture) or (
        hasattr(mixture, "degrees_of_freedom_") and hasattr(mixture, "mean_precision_")
    )


def calibration_laws(calibration, mixture, fitted, n_samples, n_used):
    """``(scale, dfd)`` per component: ``scale * r2 ~ d F(d, dfd)`` (chi2 if inf).

    ``fitted`` is the :class:`~sklearn_nsigma._fitted.FittedMixture` of
    ``mixture``. ``n_used`` holds the number of samples of the robustly
    re-estimated components (NaN for the others): those follow the
    maximum-likelihood (Hotelling) form with that many samples.
    """
    n_components, n_features = fitted.n_components, fitted.n_features
    covariance_type, weights = fitted.covariance_type, fitted.weights
    if calibration != "predictive":
        return np.ones(n_components), np.full(n_components, np.inf)
    if is_bayesian(mixture):
        scale, dfd = reference_form(unfreeze(mixture), n_features)
    else:
        scale, dfd = hotelling_form(
            weights * n_samples, n_features, covariance_type, n_samples
        )
    robust = ~np.isnan(n_used)
    if robust.any():
        total = np.nansum(n_used) if covariance_type == "tied" else None
        n_k = np.where(robust, n_used, weights * n_samples)
        robust_scale, robust_dfd = hotelling_form(
            n_k, n_features, covariance_type, total
        )
        scale = np.where(robust, robust_scale, scale)
        dfd = np.where(robust, robust_dfd, dfd)
    return np.asarray(scale, dtype=np.float64), np.asarray(dfd, dtype=np.float64)


def threshold_from_parameters(estimator, n_features: int) -> float:
    """``threshold_`` set by ``coverage`` or ``n_sigma`` (not ``contamination``)."""
    if estimator.coverage is None:
        return float(estimator.n_sigma)
    if estimator.calibration == "none":
        return float(coverage_to_sigma(estimator.coverage, n_features))
    return coverage_to_equivalent_sigma(estimator.coverage)


def threshold_radii(calibration, threshold, n_features, scales, dfds) -> np.ndarray:
    """Raw Mahalanobis radius of every component's threshold ellipsoid."""
    if calibration == "none":
        return np.full(len(scales), threshold)
    return np.sqrt(
        [
            squared_radius(threshold, n_features, scale, dfd)
            for scale, dfd in zip(scales, dfds, strict=True)
        ]
    )


def inside_scales(radii: np.ndarray) -> np.ndarray:
    """``1 / radii**2``, the scales under which inside means at most 1.

    A few ulps of slack: a sample exactly on the threshold (the one at the
    contamination percentile, say) stays an inlier although squaring and
    inverting its radius rounds. A zero radius (contamination on duplicated
    means) still counts.
    """
    with np.errstate(divide="ignore"):
        scales = (1.0 - 8 * np.finfo(np.float64).eps) / np.square(radii)
    return np.minimum(scales, np.finfo(np.float64).max)


def calibrated_sigmas(kernel, X, calibration, scales, dfds) -> np.ndarray:
    """The score in sigmas of NumPy X: ``min`` over the kernel's components.

    The raw distance with ``calibration="none"``, else the equivalent
    one-dimensional sigmas of the largest tail probability, computed in
    float64 and in log space. ``scales`` and ``dfds`` are the laws of the
    kernel's components.
    """
    n_features = kernel.n_features
    if calibration != "predictive":
        squared = kernel.min_scaled(X, np.ones(kernel.n_components))
        if calibration == "none":
            return np.sqrt(squared, out=squared)
        return log_tail_to_sigma(log_tail(squared, n_features, 1.0, np.inf))
    radii = None
    if kernel.n_components > 1 and X.shape[0] >= _MIN_BRACKETED_ROWS:
        radii = [
            approximate_squared_radii(_BRACKET_SIGMAS, n_features, scale, dfd)
            for scale, dfd in zip(scales, dfds, strict=True)
        ]
    parts = []
    for start in range(0, X.shape[0], _SCORE_ROWS):
        squared = kernel.squared(X[start : start + _SCORE_ROWS])
        log_p = _largest_log_tail(squared, n_features, scales, dfds, radii)
        parts.append(log_tail_to_sigma(log_p))
    return np.concatenate(parts)


def _trusted_prefix(radii: np.ndarray) -> int:
    """Length of the leading run of finite, non-decreasing radii.

    An inverse special function may fail (NaN) or saturate far in the tail;
    no bound is read from there on.
    """
    bad = ~np.isfinite(radii)
    with np.errstate(invalid="ignore"):  # inf - inf
        bad[1:] |= np.diff(radii) < 0
    return int(np.argmax(bad)) if bad.any() else len(radii)


def _largest_log_tail(squared, n_features, scales, dfds, radii=None) -> np.ndarray:
    """``max_k log_tail(squared[:, k])``, each tail evaluated only where needed.

    ``radii[k]`` are component k's squared radii at ``_BRACKET_SIGMAS``
    (or None: every tail is evaluated). They bracket each sample's sigmas
    under every component, give or take one level for rounding; a
    component's exact tail is computed only for the samples whose lower
    bound under it is at most their smallest upper bound, a set that holds
    the component of the largest tail probability.

    Examples
    --------
    >>> import numpy as np
    >>> squared = np.array([[1.0, 50.0], [60.0, 2.0], [1e6, 1e5]])
    >>> scales, dfds = [1.0, 0.8], [np.inf, 30.0]
    >>> radii = [approximate_squared_radii(_BRACKET_SIGMAS, 3, s, d)
    ...          for s, d in zip(scales, dfds)]
    >>> pruned = _largest_log_tail(squared, 3, scales, dfds, radii)
    >>> bool(np.array_equal(pruned, _largest_log_tail(squared, 3, scales, dfds)))
    True
    """
    n_rows, n_components = squared.shape
    candidates = np.ones(squared.shape, dtype=bool)
    if radii is not None:
        levels = np.append(_BRACKET_SIGMAS, np.inf)
        last = len(levels) - 1
        lower, upper = np.empty(squared.shape), np.empty(squared.shape)
        for k in range(n_components):
            known = _trusted_prefix(radii[k])
            # radii[k][i - 1] <= squared < radii[k][i], up to rounding; past
            # the trusted radii, no upper bound
            i = np.searchsorted(radii[k][:known], squared[:, k], side="right")
            lower[:, k] = levels[np.maximum(i - 2, 0)]
            upper[:, k] = np.where(i < known, levels[np.minimum(i + 1, last)], np.inf)
        candidates = lower <= upper.min(axis=1, keepdims=True)
    log_p = np.full(n_rows, -np.inf)
    for k in range(n_components):
        rows = np.flatnonzero(candidates[:, k])
        if rows.size:
            tail = log_tail(squared[rows, k], n_features, scales[k], dfds[k])
            log_p[rows] = np.maximum(log_p[rows], tail)
    return log_p
