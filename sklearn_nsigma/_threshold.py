"""The detector's threshold: which parameter sets it, and what it means.

Pure functions of a fitted mixture's parameters: the finite-sample law of
each component under a ``calibration`` (:func:`calibration_laws`), the raw
radius of each component's threshold ellipsoid (:func:`threshold_radii`),
and the score of samples in equivalent one-dimensional sigmas
(:func:`calibrated_sigmas`). The formulas are in the Notes of
:class:`~sklearn_nsigma.NSigmaOutlierDetector`.
"""

from typing import NamedTuple

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


class ComponentLaws(NamedTuple):
    """The law of each component's squared distances: ``scale * r2 ~ dfn F(dfn, dfd)``.

    ``dfd`` infinite: ``scale * r2 ~ chi2(dfn)``. ``dfn`` is ``n_features``
    except for a component the robust step gave a diagonal covariance on
    correlated features (see :func:`calibration_laws`).
    """

    scale: np.ndarray
    dfd: np.ndarray
    dfn: np.ndarray

    def select(self, components) -> "ComponentLaws":
        """The laws of some components (a boolean mask or indices)."""
        return ComponentLaws(*(values[components] for values in self))


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


def calibration_laws(calibration, mixture, fitted, n_samples, estimates=None):
    """The :class:`ComponentLaws` of a fitted mixture under ``calibration``.

    ``fitted`` is the :class:`~sklearn_nsigma._fitted.FittedMixture` of
    ``mixture``. ``estimates``, when the robust step ran, is its
    :class:`~sklearn_nsigma._robust.RobustEstimates`: the re-estimated
    components follow the maximum-likelihood (Hotelling) form with the
    number of samples they were computed from, in the diagonal form for
    those given a diagonal covariance. The squared distances under a
    diagonal covariance of features with correlations ``R`` are
    ``sum_i lambda_i chi2_1`` (``lambda_i`` the eigenvalues of ``R``): the
    law keeps its mean and takes Satterthwaite's ``d / g`` degrees of
    freedom, ``g = tr(R**2) / d`` the variance inflation.
    """
    n_components, n_features = fitted.n_components, fitted.n_features
    covariance_type, weights = fitted.covariance_type, fitted.weights
    if calibration != "predictive":
        return ComponentLaws(
            np.ones(n_components),
            np.full(n_components, np.inf),
            np.full(n_components, float(n_features)),
        )
    if is_bayesian(mixture):
        scale, dfd = reference_form(unfreeze(mixture), n_features)
    else:
        scale, dfd = hotelling_form(
            weights * n_samples, n_features, covariance_type, n_samples
        )
    dfn = np.full(n_components, float(n_features))
    if estimates is not None and not np.isnan(estimates.n_used).all():
        n_used = estimates.n_used
        robust = ~np.isnan(n_used)
        total = np.nansum(n_used) if covariance_type == "tied" else None
        n_k = np.where(robust, n_used, weights * n_samples)
        diagonal = estimates.diagonal  # set for re-estimated components only
        for form, chosen in (
            (covariance_type, robust & ~diagonal),
            ("diag", diagonal),
        ):
            form_scale, form_dfd = hotelling_form(n_k, n_features, form, total)
            scale = np.where(chosen, form_scale, scale)
            dfd = np.where(chosen, form_dfd, dfd)
        # a diagonal covariance on correlated features: the same mean, the
        # variance inflated (Satterthwaite's law with d / inflation degrees;
        # the inflation is 1 for the other components)
        inflation = estimates.variance_inflation
        scale, dfn = scale / inflation, dfn / inflation
    return ComponentLaws(
        np.asarray(scale, dtype=np.float64), np.asarray(dfd, dtype=np.float64), dfn
    )


def threshold_from_parameters(estimator, n_features: int) -> float:
    """``threshold_`` set by ``coverage`` or ``n_sigma`` (not ``contamination``)."""
    if estimator.coverage is None:
        return float(estimator.n_sigma)
    if estimator.calibration == "none":
        return float(coverage_to_sigma(estimator.coverage, n_features))
    return coverage_to_equivalent_sigma(estimator.coverage)


def threshold_radii(calibration, threshold, laws: ComponentLaws) -> np.ndarray:
    """Raw Mahalanobis radius of every component's threshold ellipsoid."""
    if calibration == "none":
        return np.full(len(laws.scale), threshold)
    return np.sqrt(
        [
            squared_radius(threshold, dfn, scale, dfd)
            for scale, dfd, dfn in zip(*laws, strict=True)
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


def calibrated_sigmas(kernel, X, calibration, laws: ComponentLaws) -> np.ndarray:
    """The score in sigmas of NumPy X: ``min`` over the kernel's components.

    The raw distance with ``calibration="none"``, else the equivalent
    one-dimensional sigmas of the largest tail probability, computed in
    float64 and in log space. ``laws`` are the kernel's components'.
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
            approximate_squared_radii(_BRACKET_SIGMAS, dfn, scale, dfd)
            for scale, dfd, dfn in zip(*laws, strict=True)
        ]
    parts = []
    for start in range(0, X.shape[0], _SCORE_ROWS):
        squared = kernel.squared(X[start : start + _SCORE_ROWS])
        log_p = _largest_log_tail(squared, laws, radii)
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


def _largest_log_tail(squared, laws: ComponentLaws, radii=None) -> np.ndarray:
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
    >>> laws = ComponentLaws(np.array([1.0, 0.8]), np.array([np.inf, 30.0]),
    ...                      np.array([3.0, 1.5]))
    >>> radii = [approximate_squared_radii(_BRACKET_SIGMAS, n, s, d)
    ...          for s, d, n in zip(*laws)]
    >>> pruned = _largest_log_tail(squared, laws, radii)
    >>> bool(np.array_equal(pruned, _largest_log_tail(squared, laws)))
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
            tail = log_tail(squared[rows, k], laws.dfn[k], laws.scale[k], laws.dfd[k])
            log_p[rows] = np.maximum(log_p[rows], tail)
    return log_p
