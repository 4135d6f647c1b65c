"""Geometry of Gaussian components: full covariances and n-sigma ellipsoids.

Pure NumPy; every function here works on small per-component arrays and never
touches the data.
"""

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike

from sklearn_nsigma._validation import check_n_sigma

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


@dataclass(frozen=True, eq=False)
class EllipsoidParams:
    """Centres, semi-axes and rotations of the 1-sigma ellipsoids of a mixture.

    The n-sigma ellipsoid of component ``k`` is the set of points ``x`` with
    ``||diag(1 / radii[k]) @ rotations[k].T @ (x - centers[k])|| <= n``: translate
    by ``-centers[k]``, rotate by ``rotations[k].T``, and apply the ellipse
    equation with semi-axes ``n * radii[k]``.

    Attributes
    ----------
    centers : ndarray of shape (n_components, n_features)
        Centre (mean) of each component.

    radii : ndarray of shape (n_components, n_features)
        1-sigma semi-axis lengths of each component, in descending order. The
        n-sigma semi-axes are ``n * radii``.

    rotations : ndarray of shape (n_components, n_features, n_features)
        Proper rotation matrices (orthonormal, determinant +1). Column ``j``
        of ``rotations[k]`` is the principal axis of length ``radii[k, j]``.
        Sign convention: in every column but the last, the entry of largest
        magnitude is positive (the first one where several tie to a relative
        1e-6); the last column's sign is the one that makes the determinant
        +1.

    angles : ndarray of shape (n_components,) or None
        For 2-D data, the angle of each major axis in degrees,
        counter-clockwise from the x axis, in ``[0, 180)`` (the convention of
        :class:`matplotlib.patches.Ellipse`). ``None`` in other dimensions.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nsigma import ellipsoid_params
    >>> params = ellipsoid_params(
    ...     means=np.zeros((1, 2)),
    ...     covariances=np.array([[[4.0, 0.0], [0.0, 1.0]]]),
    ...     covariance_type="full",
    ... )
    >>> params.radii
    array([[2., 1.]])
    >>> params.angles
    array([0.])
    """

    centers: np.ndarray
    radii: np.ndarray
    rotations: np.ndarray
    angles: np.ndarray | None

    @property
    def n_components(self) -> int:
        """Number of components."""
        return self.centers.shape[0]

    @property
    def n_features(self) -> int:
        """Dimension of the ellipsoids."""
        return self.centers.shape[1]

    def covariances(self) -> np.ndarray:
        """Full covariance matrices ``R @ diag(radii**2) @ R.T``.

        Returns
        -------
        covariances : ndarray of shape (n_components, n_features, n_features)
            The covariance of each component, rebuilt from its ellipsoid.
        """
        scaled = self.rotations * self.radii[:, np.newaxis, :] ** 2
        return scaled @ np.swapaxes(self.rotations, 1, 2)

    def axis_points(self, n_sigma: float = 1.0) -> np.ndarray:
        """End points ``centers + n_sigma * radii * axis`` of every semi-axis.

        Parameters
        ----------
        n_sigma : float, default=1.0
            Mahalanobis radius of the ellipsoid, positive and finite.

        Returns
        -------
        points : ndarray of shape (n_components, n_features, n_features)
            ``points[k, j]`` is the end of the ``j``-th semi-axis of component
            ``k``: a point at Mahalanobis distance ``n_sigma`` from its centre.
        """
        n_sigma = check_n_sigma(n_sigma)
        offsets = np.swapaxes(self.rotations * self.radii[:, np.newaxis, :], 1, 2)
        return self.centers[:, np.newaxis, :] + n_sigma * offsets


def parameter_shape(
    covariance_type: str, n_components: int, n_features: int
) -> tuple[int, ...]:
    """Shape of ``covariances_`` / ``precisions_cholesky_`` for a covariance type."""
    return {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[covariance_type]


def _check_parameters(means, parameters, name, covariance_type):
    """Shapes and finiteness of the inputs of ``ellipsoid_params``."""
    if means.ndim != 2 or not np.isfinite(means).all():
        raise ValueError(
            "means must be a finite array of shape (n_components, n_features), "
            f"got shape {means.shape}."
        )
    if means.shape[1] == 0:
        raise ValueError(
            "means must have at least one feature (n_features >= 1), got shape "
            f"{means.shape}: an ellipsoid needs a dimension."
        )
    expected = parameter_shape(covariance_type, *means.shape)
    if parameters.shape != expected:
        raise ValueError(
            f"{name} must have shape {expected} for covariance_type="
            f"{covariance_type!r} with means of shape {means.shape}, got "
            f"{parameters.shape}."
        )
    if not np.isfinite(parameters).all():
        raise ValueError(f"{name} must be finite.")
    if name == "covariances" and covariance_type in ("full", "tied"):
        check_symmetric_covariances(parameters, covariance_type)


def _which_components(bad: np.ndarray, covariance_type: str) -> str:
    """How an error names the components flagged in ``bad``."""
    if covariance_type == "tied":
        return "The tied covariance"
    return f"Component(s) {np.flatnonzero(bad).tolist()}"


def check_symmetric_covariances(covariances: np.ndarray, covariance_type: str) -> None:
    """Refuse 'full' or 'tied' covariances that are not symmetric.

    A covariance matrix is symmetric; a non-symmetric one (a transposed or
    half-filled matrix, say) would be read through one of its triangles only
    and give silently wrong axes or distances. Differences up to a relative
    1e-2 of the matrix's largest entry are rounding (scikit-learn's own
    'tied' covariances of data far from the origin differ by 1e-4); the
    callers then read the lower triangle, as scikit-learn's Cholesky
    factorisation of them does.

    Parameters
    ----------
    covariances : ndarray
        (n_components, n_features, n_features) for 'full',
        (n_features, n_features) for 'tied'.

    covariance_type : {'full', 'tied'}
        Layout of ``covariances``.

    Raises
    ------
    ValueError
        Naming the component(s) whose matrix is not symmetric.
    """
    stack = np.asarray(covariances)
    if covariance_type == "tied":
        stack = stack[np.newaxis]
    if stack.size == 0:
        return
    rtol = 1e-2
    scale = np.abs(stack).max(axis=(1, 2))
    asymmetry = np.abs(stack - np.swapaxes(stack, 1, 2)).max(axis=(1, 2))
    bad = asymmetry > rtol * scale
    if bad.any():
        what = _which_components(bad, covariance_type)
        raise ValueError(
            f"{what} of the mixture (covariance_type={covariance_type!r}) is "
            "not symmetric: a covariance matrix S has S[i, j] == S[j, i] (the "
            f"largest difference is {asymmetry[bad].max():.3g}, beyond a "
            f"relative {rtol:.1g} of its largest entry)."
        )


def _check_variances(variances: np.ndarray) -> None:
    """Refuse variances below zero beyond rounding, naming the component."""
    scale = np.abs(variances).max(axis=1, keepdims=True)
    negative = (variances < -1e-10 * scale).any(axis=1)
    if negative.any():
        raise ValueError(
            f"Component(s) {np.flatnonzero(negative).tolist()} have a covariance "
            "with negative variances: not a covariance matrix."
        )


def full_covariances(
    covariances: np.ndarray, covariance_type: str, n_components: int
) -> np.ndarray:
    """Expand covariances of any type to shape (n_components, d, d).

    Parameters
    ----------
    covariances : ndarray
        ``covariances_`` of a fitted mixture, of the shape its
        ``covariance_type`` implies.

    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        How ``covariances`` is stored.

    n_components : int
        Number of components.

    Returns
    -------
    full : ndarray of shape (n_components, n_features, n_features)
        The full covariance matrix of each component.
    """
    covariances = np.asarray(covariances)
    if covariance_type == "full":
        return covariances
    if covariance_type == "tied":
        return np.broadcast_to(covariances, (n_components, *covariances.shape)).copy()
    if covariance_type == "diag":
        n_features = covariances.shape[1]
        full = np.zeros((n_components, n_features, n_features), covariances.dtype)
        full[:, np.arange(n_features), np.arange(n_features)] = covariances
        return full
    raise ValueError(
        "full_covariances needs the number of features for 'spherical'; "
        "use ellipsoid_params instead."
    )


def _fix_signs(vectors: np.ndarray) -> np.ndarray:
    """Make every axis deterministic and every rotation proper (det +1).

    ``vectors`` holds axes as columns, shape (n_components, d, d). In each
    column the entry of largest magnitude becomes positive (as
    :func:`sklearn.utils.extmath.svd_flip` does); entries within a relative
    1e-6 of the largest count as tied and the first of them decides, so that
    symmetric axes such as (0.7071, -0.7071) do not flip with rounding. Then
    the last column is negated where the determinant is -1.
    """
    magnitudes = np.abs(vectors)
    near_largest = magnitudes >= (1 - 1e-6) * magnitudes.max(axis=1, keepdims=True)
    largest = np.argmax(near_largest, axis=1)  # first near-largest entry
    picked = np.take_along_axis(vectors, largest[:, np.newaxis, :], axis=1)
    vectors = vectors * np.where(picked < 0, -1.0, 1.0).astype(vectors.dtype)
    improper = np.linalg.det(vectors) < 0
    vectors[improper, :, -1] *= -1
    return vectors


def _angles_2d(rotations: np.ndarray) -> np.ndarray | None:
    if rotations.shape[1] != 2:
        return None
    major = rotations[:, :, 0]
    return np.degrees(np.arctan2(major[:, 1], major[:, 0])) % 180.0


def ellipsoid_params(
    means: np.ndarray,
    covariances: np.ndarray | None = None,
    covariance_type: str = "full",
    *,
    precisions_cholesky: np.ndarray | None = None,
) -> EllipsoidParams:
    """Compute the n-sigma ellipsoid parameters of every mixture component.

    Parameters
    ----------
    means : array-like of shape (n_components, n_features)
        Component means.

    covariances : array-like, default=None
        Covariances in the layout of ``covariance_type`` (as
        ``GaussianMixture.covariances_``). If None, ``precisions_cholesky``
        is used instead.

    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Layout of ``covariances`` / ``precisions_cholesky``.

    precisions_cholesky : array-like, default=None
        Cholesky factors of the precision matrices, in the layout of
        ``GaussianMixture.precisions_cholesky_``. Used when ``covariances``
        is None.

    Returns
    -------
    params : EllipsoidParams
        Centres, 1-sigma radii (descending), proper rotations and, in 2-D,
        angles.

    Notes
    -----
    'diag' and 'spherical' covariances are handled exactly, without an
    eigendecomposition: the axes are coordinate axes, ordered by decreasing
    variance (ties keep feature order). For 'full' and 'tied', the axes come
    from :func:`numpy.linalg.eigh`; eigenvalues that round to slightly below
    zero for nearly singular matrices (within 1e-10 of the largest) are
    clipped to zero, and clearly negative ones are refused.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nsigma import ellipsoid_params
    >>> params = ellipsoid_params(np.zeros((2, 3)), np.array([1.0, 4.0]), "spherical")
    >>> params.radii
    array([[1., 1., 1.],
           [2., 2., 2.]])
    """
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"covariance_type must be one of {COVARIANCE_TYPES}, "
            f"got {covariance_type!r}."
        )
    if covariances is None and precisions_cholesky is None:
        raise ValueError("Either covariances or precisions_cholesky is needed.")
    means = np.asarray(means)
    dtype = means.dtype if means.dtype.kind == "f" else np.float64
    if covariances is not None:
        covariances = np.asarray(covariances, dtype=dtype)
        _check_parameters(means, covariances, "covariances", covariance_type)
    else:
        precisions_cholesky = np.asarray(precisions_cholesky, dtype=dtype)
        _check_parameters(
            means, precisions_cholesky, "precisions_cholesky", covariance_type
        )
    n_components, n_features = means.shape

    if covariance_type in ("diag", "spherical"):
        if covariances is not None:
            variances = np.asarray(covariances, dtype=dtype)
        else:
            variances = 1.0 / np.square(np.asarray(precisions_cholesky, dtype=dtype))
        variances = np.broadcast_to(
            variances.reshape(n_components, -1), (n_components, n_features)
        )
        _check_variances(variances)
        order = np.argsort(-variances, axis=1, kind="stable")
        radii = np.sqrt(np.maximum(np.take_along_axis(variances, order, axis=1), 0))
        vectors = np.zeros((n_components, n_features, n_features), dtype=dtype)
        components = np.arange(n_components)[:, np.newaxis]
        vectors[components, order, np.arange(n_features)] = 1.0
    elif covariances is not None:
        full = full_covariances(
            np.asarray(covariances, dtype=dtype), covariance_type, n_components
        )
        eigenvalues, vectors = np.linalg.eigh(full)  # ascending
        eigenvalues, vectors = eigenvalues[:, ::-1], vectors[:, :, ::-1]
        _check_variances(eigenvalues)
        radii = np.sqrt(np.maximum(eigenvalues, 0))
    else:
        factors = np.asarray(precisions_cholesky, dtype=dtype)
        if covariance_type == "tied":
            factors = np.broadcast_to(factors, (n_components, *factors.shape))
        precisions = factors @ np.swapaxes(factors, 1, 2)
        # The largest covariance axis is the smallest precision axis: eigh's
        # ascending order is already the order we want.
        eigenvalues, vectors = np.linalg.eigh(precisions)
        with np.errstate(divide="ignore"):
            radii = 1.0 / np.sqrt(np.maximum(eigenvalues, 0))

    rotations = _fix_signs(np.ascontiguousarray(vectors))
    return EllipsoidParams(
        centers=means.copy(),
        radii=np.ascontiguousarray(radii),
        rotations=rotations,
        angles=_angles_2d(rotations),
    )


def precisions_cholesky_from_covariances(
    covariances: np.ndarray, covariance_type: str
) -> np.ndarray:
    """Cholesky factors of the precision matrices, computed from covariances.

    For mixtures that expose ``covariances_`` but not
    ``precisions_cholesky_``. The result has the layout of
    ``GaussianMixture.precisions_cholesky_``: for 'full' and 'tied', the
    upper-triangular ``U`` with ``U @ U.T = inv(S)``, computed as scikit-learn
    does (``inv(cholesky(S)).T``); for 'diag' and 'spherical',
    ``1 / sqrt(S)``.

    Parameters
    ----------
    covariances : array-like
        Covariances in the layout of ``covariance_type`` (as
        ``GaussianMixture.covariances_``): (n_components, n_features,
        n_features) for 'full', (n_features, n_features) for 'tied',
        (n_components, n_features) for 'diag', (n_components,) for
        'spherical'.

    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        Layout of ``covariances``.

    Returns
    -------
    precisions_cholesky : ndarray
        float64 factors, of the shape of ``covariances``.

    Raises
    ------
    ValueError
        If a covariance is not finite, symmetric and positive definite; the
        message names the component(s).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nsigma._geometry import precisions_cholesky_from_covariances
    >>> precisions_cholesky_from_covariances(np.array([[4.0, 1.0]]), "diag")
    array([[0.5, 1. ]])
    """
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"covariance_type must be one of {COVARIANCE_TYPES}, "
            f"got {covariance_type!r}."
        )
    covariances = np.asarray(covariances, dtype=np.float64)
    if covariance_type in ("full", "tied"):
        check_symmetric_covariances(covariances, covariance_type)
    if covariance_type in ("diag", "spherical"):
        with np.errstate(divide="ignore", invalid="ignore"):
            factors = 1.0 / np.sqrt(covariances)
        good = np.isfinite(factors) & (covariances > 0)
        bad = ~good.reshape(good.shape[0], -1).all(axis=1)
    else:
        stack = covariances if covariance_type == "full" else covariances[np.newaxis]
        identity = np.eye(stack.shape[-1])
        factors = np.empty_like(stack)
        bad = np.zeros(stack.shape[0], dtype=bool)
        for k, covariance in enumerate(stack):
            if not np.isfinite(covariance).all():
                bad[k] = True
                continue
            try:
                lower = np.linalg.cholesky(covariance)
            except np.linalg.LinAlgError:
                bad[k] = True
                continue
            factors[k] = np.linalg.solve(lower, identity).T
        if covariance_type == "tied":
            factors = factors[0]
    if bad.any():
        what = _which_components(bad, covariance_type)
        raise ValueError(
            f"{what} of the mixture (covariance_type={covariance_type!r}) is "
            "singular or not finite: its covariance is not positive definite, "
            "so Mahalanobis distances are not defined. Refit with a larger "
            "reg_covar or fix the component."
        )
    return factors


# -- What the displays draw: marginal ellipsoids and 3-D meshes -------------------
def marginal_params(params: EllipsoidParams, features: ArrayLike) -> EllipsoidParams:
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
    >>> from sklearn_nsigma._geometry import marginal_params
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
    center, radii : array-like of shape (3,)
        Centre of the ellipsoid, and its 1-sigma semi-axes.

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
    >>> from sklearn_nsigma._geometry import ellipsoid_mesh
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
    polar, azimuth = np.meshgrid(
        np.linspace(0, np.pi, resolution),
        np.linspace(0, 2 * np.pi, resolution),
        indexing="ij",
    )
    sphere = np.stack(
        [
            np.sin(polar) * np.cos(azimuth),
            np.sin(polar) * np.sin(azimuth),
            np.cos(polar),
        ]
    )  # (3, resolution, resolution) unit vectors
    scaled = (n_sigma * radii)[:, np.newaxis, np.newaxis] * sphere
    x, y, z = center[:, np.newaxis, np.newaxis] + np.einsum(
        "ij,jab->iab", rotation, scaled
    )
    return x, y, z
