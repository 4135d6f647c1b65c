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
    parts = []
    for start in range(0, X.shape[0], _SCORE_ROWS):
        squared = kernel.squared(X[start : start + _SCORE_ROWS])
        log_p = np.max(
            [
                log_tail(squared[:, k], n_features, scales[k], dfds[k])
                for k in range(kernel.n_components)
            ],
            axis=0,
        )
        parts.append(log_tail_to_sigma(log_p))
    return np.concatenate(parts)
