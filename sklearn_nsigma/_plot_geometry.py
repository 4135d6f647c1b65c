"""What the displays draw, as plain arrays (no matplotlib).

The displays in :mod:`sklearn_nsigma._plot` only turn these arrays into
artists, so the geometry is tested without a plotting library: ellipse
widths, heights and angles for several n-sigma levels, the marginal ellipses
of pairs of features, 3-D ellipsoid surface meshes and coverage curves.
"""

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import chi2
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

from sklearn_nsigma._detector import _mixture_parameters
from sklearn_nsigma._distance import MahalanobisKernel
from sklearn_nsigma._geometry import EllipsoidParams, ellipsoid_params

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


def drawn_components(mixture, detector, min_weight: float) -> np.ndarray:
    """Indices of the components to draw.

    Those of weight at least ``min_weight`` and, for a detector that says
    which components it uses (``eligible_components_``), used by it.

    Parameters
    ----------
    mixture : fitted Gaussian mixture
        The mixture.

    detector : object or None
        The detector wrapping it, if any.

    min_weight : float
        Smallest weight drawn.

    Returns
    -------
    components : ndarray of int
        Indices of the components to draw, ascending.
    """
    n_components = np.asarray(mixture.means_).shape[0]
    weights = getattr(mixture, "weights_", None)
    if weights is None:
        weights = np.full(n_components, 1.0 / n_components)
    keep = np.zeros(n_components, dtype=bool)
    keep[visible_components(weights, min_weight)] = True
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
        The mixture.

    detector : object or None
        The detector wrapping it, if any.

    Returns
    -------
    params : EllipsoidParams
        Centres, radii in the unit of the drawn levels, rotations, angles.
    """
    params = mixture_ellipsoids(mixture)
    radii = getattr(detector, "radii_", None)
    threshold = getattr(detector, "threshold_", None)
    if radii is None or threshold is None or not threshold > 0:
        return params
    factors = np.asarray(radii, dtype=np.float64) / float(threshold)
    return EllipsoidParams(
        params.centers, params.radii * factors[:, None], params.rotations, params.angles
    )


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


def check_n_sigma_levels(n_sigma: float | ArrayLike) -> np.ndarray:
    """Validate one or several n-sigma levels.

    Parameters
    ----------
    n_sigma : float or array-like of float
        Positive finite Mahalanobis radii.

    Returns
    -------
    levels : ndarray of shape (n_levels,)
        The radii as float64, in the order given.
    """
    levels = np.atleast_1d(np.asarray(n_sigma))
    if levels.dtype.kind not in "iuf" or levels.ndim != 1 or levels.size == 0:
        raise ValueError(
            f"n_sigma must be a positive number or a 1-D sequence of them, "
            f"got {n_sigma!r}."
        )
    levels = levels.astype(np.float64)
    if not (np.isfinite(levels).all() and (levels > 0).all()):
        raise ValueError(f"n_sigma must be positive and finite, got {n_sigma!r}.")
    return levels


def visible_components(weights: ArrayLike, min_weight: float) -> np.ndarray:
    """Indices of the components whose weight is at least ``min_weight``.

    The heaviest component always counts (as for the detector's
    ``eligible_components_``), so there is always something to draw.

    Parameters
    ----------
    weights : array-like of shape (n_components,)
        Mixture weights.

    min_weight : float
        Smallest weight of a component that is drawn. BayesianGaussianMixture
        typically leaves some components with a weight near zero.

    Returns
    -------
    components : ndarray of int
        Indices of the components to draw, ascending.

    Examples
    --------
    >>> from sklearn_nsigma._plot_geometry import visible_components
    >>> visible_components([0.5, 0.001, 0.499], min_weight=0.01)
    array([0, 2])
    >>> visible_components([0.5, 0.001, 0.499], min_weight=0.9)
    array([0])
    """
    if not isinstance(min_weight, Real) or not 0 <= min_weight <= 1:
        raise ValueError(f"min_weight must be a number in [0, 1], got {min_weight!r}.")
    weights = np.asarray(weights)
    keep = weights >= min_weight
    if weights.size:
        keep[np.argmax(weights)] = True
    return np.flatnonzero(keep)


def ellipse_patch_params(
    radii: ArrayLike, angles: ArrayLike, n_sigma: float | ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Width, height and angle of every 2-D n-sigma ellipse.

    These are the arguments of :class:`matplotlib.patches.Ellipse`: full axis
    lengths ``2 * n * radii`` and the major-axis angle in degrees.

    Parameters
    ----------
    radii : array-like of shape (n_components, 2)
        1-sigma semi-axes (major, minor), as ``EllipsoidParams.radii``.

    angles : array-like of shape (n_components,)
        Major-axis angles in degrees, as ``EllipsoidParams.angles``.

    n_sigma : float or array-like of shape (n_levels,)
        Mahalanobis radii.

    Returns
    -------
    widths : ndarray of shape (n_levels, n_components)
        Major axis lengths, ``2 * n_sigma[i] * radii[k, 0]``.

    heights : ndarray of shape (n_levels, n_components)
        Minor axis lengths, ``2 * n_sigma[i] * radii[k, 1]``.

    angles : ndarray of shape (n_levels, n_components)
        Major-axis angles in degrees (the same for every level).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nsigma import ellipsoid_params
    >>> from sklearn_nsigma._plot_geometry import ellipse_patch_params
    >>> params = ellipsoid_params(np.zeros((1, 2)), np.array([[[4.0, 0], [0, 1]]]))
    >>> widths, heights, angles = ellipse_patch_params(
    ...     params.radii, params.angles, [1, 3]
    ... )
    >>> widths.ravel(), heights.ravel(), angles.ravel()
    (array([ 4., 12.]), array([2., 6.]), array([0., 0.]))
    """
    radii = np.asarray(radii, dtype=np.float64)
    angles = np.asarray(angles, dtype=np.float64)
    if radii.ndim != 2 or radii.shape[1] != 2 or angles.shape != radii.shape[:1]:
        raise ValueError(
            "Ellipses need radii of shape (n_components, 2) and angles of shape "
            f"(n_components,), got {radii.shape} and {angles.shape}."
        )
    levels = check_n_sigma_levels(n_sigma)[:, np.newaxis]
    widths = 2 * levels * radii[np.newaxis, :, 0]
    heights = 2 * levels * radii[np.newaxis, :, 1]
    return widths, heights, np.broadcast_to(angles, widths.shape).copy()


def marginal_params(
    params: EllipsoidParams, features: Sequence[int]
) -> EllipsoidParams:
    """Ellipsoids of the marginal distribution of some features.

    The marginal of a Gaussian on a subset of its features is the Gaussian
    with the sub-vector of the mean and the sub-matrix of the covariance. Its
    n-sigma ellipse is the shadow (projection) of the n-sigma ellipsoid for
    the same ``n``: the set of points whose projection lies inside.

    Parameters
    ----------
    params : EllipsoidParams
        Ellipsoids in ``n_features`` dimensions.

    features : sequence of int
        Indices of the features to keep, in the order wanted.

    Returns
    -------
    marginal : EllipsoidParams
        Ellipsoids in ``len(features)`` dimensions (with ``angles`` when 2).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nsigma import ellipsoid_params
    >>> from sklearn_nsigma._plot_geometry import marginal_params
    >>> cov = np.array([[[4.0, 0, 0], [0, 9.0, 0], [0, 0, 1.0]]])
    >>> marginal_params(ellipsoid_params(np.zeros((1, 3)), cov), [0, 2]).radii
    array([[2., 1.]])
    """
    features = np.asarray(features)
    if (
        features.ndim != 1
        or features.dtype.kind not in "iu"
        or features.size == 0
        or features.min() < 0
        or features.max() >= params.n_features
    ):
        raise ValueError(
            f"features must be indices in [0, {params.n_features}), got "
            f"{features.tolist()!r}."
        )
    covariances = params.covariances()[:, features][:, :, features]
    return ellipsoid_params(params.centers[:, features], covariances, "full")


def ellipsoid_mesh(
    center: ArrayLike,
    radii: ArrayLike,
    rotation: ArrayLike,
    n_sigma: float = 1.0,
    resolution: int = 24,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Surface mesh of a 3-D n-sigma ellipsoid.

    A latitude/longitude grid on the unit sphere, scaled by
    ``n_sigma * radii`` along the principal axes, rotated and translated:
    ``center + rotation @ (n_sigma * radii * u)``. Every mesh point lies at
    Mahalanobis distance ``n_sigma`` from the centre.

    Parameters
    ----------
    center : array-like of shape (3,)
        Centre of the ellipsoid.

    radii : array-like of shape (3,)
        1-sigma semi-axes.

    rotation : array-like of shape (3, 3)
        Rotation whose columns are the principal axes.

    n_sigma : float, default=1.0
        Mahalanobis radius.

    resolution : int, default=24
        Number of grid lines in each direction.

    Returns
    -------
    x, y, z : ndarray of shape (resolution, resolution)
        Coordinates, as :meth:`mpl_toolkits.mplot3d.axes3d.Axes3D.plot_surface`
        takes them.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nsigma._plot_geometry import ellipsoid_mesh
    >>> x, y, z = ellipsoid_mesh(np.zeros(3), [3.0, 2.0, 1.0], np.eye(3), 2.0)
    >>> x.shape
    (24, 24)
    >>> bool(np.allclose(np.sqrt((x / 3) ** 2 + (y / 2) ** 2 + z**2), 2.0))
    True
    """
    center = np.asarray(center, dtype=np.float64)
    radii = np.asarray(radii, dtype=np.float64)
    rotation = np.asarray(rotation, dtype=np.float64)
    if center.shape != (3,) or radii.shape != (3,) or rotation.shape != (3, 3):
        raise ValueError(
            "ellipsoid_mesh needs a 3-D ellipsoid: center and radii of shape (3,) "
            f"and rotation of shape (3, 3), got {center.shape}, {radii.shape} and "
            f"{rotation.shape}."
        )
    if not isinstance(resolution, Integral) or resolution < 3:
        raise ValueError(f"resolution must be an int >= 3, got {resolution!r}.")
    polar = np.linspace(0, np.pi, resolution)
    azimuth = np.linspace(0, 2 * np.pi, resolution)
    sphere = np.stack(
        [
            np.outer(np.sin(polar), np.cos(azimuth)),
            np.outer(np.sin(polar), np.sin(azimuth)),
            np.outer(np.cos(polar), np.ones_like(azimuth)),
        ]
    )  # (3, resolution, resolution)
    scaled = (n_sigma * radii)[:, np.newaxis, np.newaxis] * sphere
    points = np.einsum("ij,jab->iab", rotation, scaled)
    points += center[:, np.newaxis, np.newaxis]
    return points[0], points[1], points[2]


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
    >>> from sklearn_nsigma._plot_geometry import coverage_curves
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


def expected_coverage(n_sigma: ArrayLike, n_features: int) -> np.ndarray:
    """Chi-square coverage ``chi2.cdf(n_sigma**2, n_features)`` as an array.

    Parameters
    ----------
    n_sigma : array-like of shape (n_levels,)
        Radii.

    n_features : int
        Dimension.

    Returns
    -------
    expected : ndarray of shape (n_levels,)
        Mass of a Gaussian inside each radius.
    """
    levels = np.asarray(n_sigma, dtype=np.float64).ravel()
    return chi2.cdf(np.square(levels), n_features)
