"""What the displays read from a fitted mixture, as NumPy arrays.

The one module of the plot package that reads a fitted mixture's attributes
(``means_``, ``covariances_``, ``weights_``, ``ellipsoid_params_``) and a
detector's (``eligible_components_``, ``min_weight_``, ``radii_``,
``threshold_``): the displays only see what these functions return.
"""

import numpy as np
from numpy.typing import ArrayLike
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

from sklearn_nsigma._detector import _mixture_parameters
from sklearn_nsigma._distance import MahalanobisKernel
from sklearn_nsigma._geometry import (
    EllipsoidParams,
    ellipsoid_params,
    full_covariances,
)
from sklearn_nsigma._weights import eligible_components, resolve_min_weight

_MIXTURE_ATTRIBUTES = ("means_", "covariances_")


def _unfreeze(estimator):
    while isinstance(estimator, FrozenEstimator):
        estimator = estimator.estimator
    return estimator


def _is_wrapper(estimator) -> bool:
    """Whether ``estimator`` is a meta-estimator with an ``estimator`` parameter."""
    if hasattr(estimator, "covariance_type") or not hasattr(estimator, "get_params"):
        return False
    return "estimator" in estimator.get_params(deep=False)


def fitted_mixture(estimator) -> tuple[object, object | None]:
    """The fitted Gaussian mixture behind ``estimator``, and its detector.

    Parameters
    ----------
    estimator : object
        A fitted :class:`~sklearn_nsigma.NSigmaGaussianMixture`,
        :class:`~sklearn.mixture.GaussianMixture` or
        :class:`~sklearn.mixture.BayesianGaussianMixture` (possibly inside a
        :class:`~sklearn.frozen.FrozenEstimator`), or a fitted outlier
        detector that keeps its mixture in ``estimator_`` (such as
        ``NSigmaOutlierDetector``).

    Returns
    -------
    mixture : object
        The fitted mixture.

    detector : object or None
        ``estimator`` when it is a detector wrapping the mixture, else None.

    Raises
    ------
    TypeError
        If ``estimator`` is neither a Gaussian mixture nor a detector around one.
    sklearn.exceptions.NotFittedError
        If it is not fitted.
    """
    estimator = _unfreeze(estimator)
    detector = None
    if _is_wrapper(estimator):
        check_is_fitted(estimator)
        detector, estimator = estimator, _unfreeze(estimator.estimator_)
    if not hasattr(estimator, "covariance_type") or not hasattr(type(estimator), "fit"):
        raise TypeError(
            "Expected a Gaussian mixture (GaussianMixture, "
            "BayesianGaussianMixture, NSigmaGaussianMixture), an outlier "
            "detector wrapping one (NSigmaOutlierDetector), or a Pipeline whose "
            f"last step is one of these, fitted; got {type(estimator).__name__}."
        )
    check_is_fitted(estimator, _MIXTURE_ATTRIBUTES)
    return estimator, detector


def mixture_weights(mixture) -> np.ndarray:
    """The weights of a fitted mixture; equal weights when it has none."""
    n_components = np.asarray(mixture.means_).shape[0]
    weights = getattr(mixture, "weights_", None)
    if weights is None:
        return np.full(n_components, 1.0 / n_components)
    return np.asarray(weights, dtype=np.float64)


def drawn_components(
    mixture, detector, min_weight: float | str, n_samples: int | None = None
) -> np.ndarray:
    """Indices of the components to draw.

    Those of weight at least ``min_weight`` and, for a detector that says
    which components it uses (``eligible_components_``), used by it.

    Parameters
    ----------
    mixture : fitted Gaussian mixture
        The mixture.

    detector : object or None
        The detector wrapping it, if any.

    min_weight : float or 'auto'
        Smallest weight drawn. 'auto' means the detector's own value
        (``min_weight_``) for a detector, and otherwise
        ``max(0.05, 2 / n_samples)`` (see
        :func:`~sklearn_nsigma._weights.auto_min_weight`).

    n_samples : int, default=None
        The number of samples behind the weights, for 'auto' without a
        detector. None means unknown: the floor 0.05.

    Returns
    -------
    components : ndarray of int
        Indices of the components to draw, ascending; the heaviest is always
        one of them.
    """
    own = getattr(detector, "min_weight_", None)
    if isinstance(min_weight, str) and min_weight == "auto" and own is not None:
        min_weight = own
    keep = eligible_components(
        mixture_weights(mixture), resolve_min_weight(min_weight, n_samples)
    )
    eligible = getattr(detector, "eligible_components_", None)
    if eligible is not None:
        keep &= np.asarray(eligible, dtype=bool)
    return np.flatnonzero(keep)


def mixture_ellipsoids(mixture) -> EllipsoidParams:
    """Ellipsoids of a fitted mixture, as NumPy arrays.

    Uses ``ellipsoid_params_`` when the mixture has it (an
    :class:`~sklearn_nsigma.NSigmaGaussianMixture`) and computes them from
    ``means_`` and ``covariances_`` otherwise.

    Parameters
    ----------
    mixture : fitted Gaussian mixture
        Any object with ``means_``, ``covariances_`` and ``covariance_type``.

    Returns
    -------
    params : EllipsoidParams
        Centres, 1-sigma radii, rotations and (in 2-D) angles.
    """
    params = getattr(mixture, "ellipsoid_params_", None)
    if params is None:
        return ellipsoid_params(
            np.asarray(mixture.means_),
            np.asarray(mixture.covariances_),
            mixture.covariance_type,
        )
    angles = None if params.angles is None else np.asarray(params.angles)
    return EllipsoidParams(
        np.asarray(params.centers),
        np.asarray(params.radii),
        np.asarray(params.rotations),
        angles,
    )


def _radius_factors(detector) -> np.ndarray | None:
    """``radii_ / threshold_`` of a calibrated detector, else None."""
    radii = getattr(detector, "radii_", None)
    threshold = getattr(detector, "threshold_", None)
    if radii is None or threshold is None or not threshold > 0:
        return None
    return np.asarray(radii, dtype=np.float64) / float(threshold)


def drawn_ellipsoids(mixture, detector) -> EllipsoidParams:
    """Ellipsoids to draw, with the detector's threshold at its own radii.

    A calibrated :class:`~sklearn_nsigma.NSigmaOutlierDetector` reads
    ``n_sigma`` in equivalent one-dimensional sigmas, so the raw Mahalanobis
    radius of its threshold (``radii_``) differs per component. Each
    component's radii are scaled by ``radii_[k] / threshold_``, so that the
    level ``threshold_`` is drawn exactly where ``predict`` changes and
    every level is in the detector's unit. Mixtures, and detectors without
    ``radii_`` or with ``calibration="none"``, are drawn unscaled.

    Parameters
    ----------
    mixture : fitted Gaussian mixture
        The mixture, as :func:`fitted_mixture` returns it.

    detector : object or None
        Its detector, whose ``radii_`` and ``threshold_`` scale the radii.

    Returns
    -------
    params : EllipsoidParams
        Centres, radii in the unit of the drawn levels, rotations, angles.
    """
    params = mixture_ellipsoids(mixture)
    factors = _radius_factors(detector)
    if factors is None:
        return params
    return EllipsoidParams(
        params.centers, params.radii * factors[:, None], params.rotations, params.angles
    )


def drawn_covariances(mixture, detector) -> np.ndarray:
    """Full covariances to draw, scaled as :func:`drawn_ellipsoids` scales radii.

    Built from ``covariances_`` without any eigendecomposition, for the
    marginal ellipses of many pairs of features: shape (n_components,
    n_features, n_features), times ``(radii_ / threshold_)**2`` for a
    calibrated ``detector`` (None for a mixture alone).
    """
    n_components, n_features = np.asarray(mixture.means_).shape
    stored = np.asarray(mixture.covariances_, dtype=np.float64)
    if mixture.covariance_type == "spherical":
        covariances = stored[:, np.newaxis, np.newaxis] * np.eye(n_features)
    else:
        covariances = np.array(
            full_covariances(stored, mixture.covariance_type, n_components)
        )
    factors = _radius_factors(detector)
    if factors is not None:
        covariances *= np.square(factors)[:, np.newaxis, np.newaxis]
    return covariances


def mahalanobis_distances(X: ArrayLike, mixture) -> np.ndarray:
    """Mahalanobis distance of every sample to every component of a mixture.

    Computed by the package's distance kernel from the mixture's
    ``means_`` and ``precisions_cholesky_`` (or ``covariances_``), so plain
    GaussianMixture and BayesianGaussianMixture models work too.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Samples.

    mixture : fitted Gaussian mixture
        The mixture.

    Returns
    -------
    distances : ndarray of shape (n_samples, n_components)
        Distance (not squared) of each sample to each component.
    """
    X = np.asarray(X, dtype=np.float64)
    means, factors, covariance_type, _ = _mixture_parameters(mixture, X.shape[1])
    return MahalanobisKernel(means, factors, covariance_type, "float64").distances(X)
