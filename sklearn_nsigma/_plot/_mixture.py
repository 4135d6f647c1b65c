"""What the displays read from a fitted mixture, as NumPy arrays.

The plot package's one reader of a fitted mixture and its detector. The
mixture and detector behind an estimator, the weights and the eligibility
rule come from :mod:`sklearn_nsigma._fitted`, the package's one reading of a
fitted mixture; this module adds what only drawing needs: what
``min_weight="auto"`` means for a display, the ellipsoids and covariances
at the detector's radii, and the distances of the points drawn.
"""

from types import SimpleNamespace

import numpy as np
from numpy.typing import ArrayLike

from sklearn_nsigma._fitted import (
    AUTO_MIN_WEIGHT,
    FittedMixture,
    fitted_mixture,
    mixture_weights,
    resolve_min_weight,
)
from sklearn_nsigma._fitted import drawn_components as _eligible_drawn
from sklearn_nsigma._geometry import (
    EllipsoidParams,
    ellipsoid_params,
    full_covariances,
)
from sklearn_nsigma._robust import covariances_from_factors

__all__ = [
    "display_min_weight",
    "drawn_components",
    "drawn_covariances",
    "drawn_ellipsoids",
    "drawn_mixture",
    "fitted_mixture",
    "mahalanobis_distances",
    "mixture_ellipsoids",
    "mixture_weights",
]


def display_min_weight(
    min_weight: float | str, detector, n_samples: int | None, n_features: int = 0
) -> float:
    """The number a display's ``min_weight`` stands for.

    'auto' is the detector's rule: a detector's own ``min_weight_`` (the
    components it uses); for a mixture, which does not keep its number of
    training samples, ``max(0.05, (n_features + 2) / n_samples)`` with
    ``n_samples`` the rows of the X drawn, and 0.05 without X. A number is
    returned as it is (checked where it is used).
    """
    if not isinstance(min_weight, str):
        return min_weight
    if min_weight != "auto":
        raise ValueError(
            f"min_weight must be a number in [0, 1] or 'auto', got {min_weight!r}."
        )
    own = getattr(detector, "min_weight_", None)
    if own is not None:
        return float(own)
    if not n_samples:
        return AUTO_MIN_WEIGHT
    return resolve_min_weight("auto", n_samples, n_features)


def drawn_components(
    mixture, detector, min_weight: float | str, n_samples: int | None = None
) -> np.ndarray:
    """Indices of the components to draw.

    Those of weight at least ``min_weight`` (see :func:`display_min_weight`
    for 'auto') and, for a detector that says which components it uses
    (``eligible_components_``), used by it. The heaviest is always drawn.
    """
    n_features = np.shape(mixture.means_)[1]
    min_weight = display_min_weight(min_weight, detector, n_samples, n_features)
    return _eligible_drawn(mixture, detector, min_weight)


def drawn_mixture(mixture, detector):
    """The Gaussians whose ellipsoids a display draws.

    A detector's own: the parameters its ``predict`` uses (after its
    ``robust`` re-estimation, which leaves the mixture as it is), as
    ``means_``, ``covariances_`` and ``covariance_type``; the mixture itself
    without a detector.
    """
    if detector is None:
        return mixture
    view = FittedMixture.from_estimator(detector)
    return SimpleNamespace(
        means_=view.means,
        covariances_=covariances_from_factors(
            view.precisions_cholesky, view.covariance_type
        ),
        covariance_type=view.covariance_type,
    )


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

    Computed by the package's distance kernel, through the fitted-mixture
    view, so plain GaussianMixture and BayesianGaussianMixture models work
    too.

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
    view = FittedMixture.from_estimator(mixture, X.shape[1])
    return view.kernel("float64").distances(X)
