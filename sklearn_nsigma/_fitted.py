"""The one reading of a fitted Gaussian mixture.

:class:`FittedMixture` holds what every n-sigma computation needs from a
fitted mixture (means, precision Cholesky factors, covariance type, weights)
as float64 NumPy arrays, checked once, whichever object they come from: a
:class:`~sklearn.mixture.GaussianMixture`, a
:class:`~sklearn.mixture.BayesianGaussianMixture`, a subclass of either, any
object that exposes the same fitted attributes, one of these inside a
:class:`~sklearn.frozen.FrozenEstimator`, or a fitted
:class:`~sklearn_nsigma.NSigmaOutlierDetector` (its own, possibly robustly
re-estimated, parameters). It also holds the eligibility rule of
``min_weight`` and builds its distance kernel once per dtype.

The module-level functions answer the same questions for code that draws a
mixture: which mixture and detector stand behind an estimator
(:func:`fitted_mixture`), its weights (:func:`mixture_weights`) and the
components to draw (:func:`drawn_components`).
"""

from numbers import Real

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

from sklearn_nsigma._compat import move_to
from sklearn_nsigma._distance import MahalanobisKernel
from sklearn_nsigma._geometry import (
    COVARIANCE_TYPES,
    parameter_shape,
    precisions_cholesky_from_covariances,
)

# The floor of min_weight="auto", and the number of training samples a
# component must hold at least.
AUTO_MIN_WEIGHT = 0.05
AUTO_MIN_SAMPLES = 2

_MIXTURE_ATTRIBUTES = ("means_", "covariances_")


def to_numpy(array) -> np.ndarray:
    """``array`` as a NumPy array on the host, from any array API namespace."""
    return move_to(array, xp=np, device="cpu")


def unfreeze(estimator):
    """The estimator inside any number of FrozenEstimator wrappers."""
    while isinstance(estimator, FrozenEstimator):
        estimator = estimator.estimator
    return estimator


def describe(estimator) -> str:
    """The estimator's class name, ``FrozenEstimator(Name)`` for a frozen one."""
    if isinstance(estimator, FrozenEstimator):
        return f"FrozenEstimator({type(estimator.estimator).__name__})"
    return type(estimator).__name__


def mixture_weights(mixture, n_components: int | None = None) -> np.ndarray:
    """The weights of a fitted mixture; equal weights if it has no ``weights_``.

    Parameters
    ----------
    mixture : fitted Gaussian mixture
        Any object with ``means_``, and possibly ``weights_``.

    n_components : int, default=None
        Number of components, if known (else read from ``means_``).

    Returns
    -------
    weights : ndarray of shape (n_components,)
        float64 weights.
    """
    weights = getattr(mixture, "weights_", None)
    if weights is not None:
        return np.asarray(to_numpy(weights), dtype=np.float64)
    if n_components is None:
        n_components = np.shape(mixture.means_)[0]
    return np.full(n_components, 1.0 / n_components)


def resolve_min_weight(
    min_weight: float | str, n_samples: int, n_features: int = 0
) -> float:
    """The number ``min_weight`` stands for.

    'auto' is ``max(0.05, (n_features + 2) / n_samples)``: 5 % of the
    samples, and enough of them for a covariance.

    Examples
    --------
    >>> from sklearn_nsigma._fitted import resolve_min_weight
    >>> resolve_min_weight("auto", 1000, 2), resolve_min_weight("auto", 20, 2)
    (0.05, 0.2)
    """
    if isinstance(min_weight, str) and min_weight == "auto":
        return max(AUTO_MIN_WEIGHT, (n_features + AUTO_MIN_SAMPLES) / n_samples)
    return float(min_weight)


def eligible_components(weights, min_weight: float) -> np.ndarray:
    """Components whose weight is at least ``min_weight``; the heaviest always.

    Parameters
    ----------
    weights : array-like of shape (n_components,)
        Mixture weights.

    min_weight : float
        Smallest weight of an eligible component, in [0, 1].

    Returns
    -------
    eligible : ndarray of bool of shape (n_components,)
        Whether each component is eligible.

    Examples
    --------
    >>> from sklearn_nsigma._fitted import eligible_components
    >>> eligible_components([0.5, 0.001, 0.499], 0.01)
    array([ True, False,  True])
    >>> eligible_components([0.5, 0.001, 0.499], 0.9)
    array([ True, False, False])
    """
    if (
        isinstance(min_weight, (bool, np.bool_))
        or not isinstance(min_weight, Real)
        or not 0 <= min_weight <= 1
    ):
        raise ValueError(f"min_weight must be a number in [0, 1], got {min_weight!r}.")
    weights = np.asarray(weights)
    eligible = weights >= min_weight
    if weights.size:
        eligible[np.argmax(weights)] = True
    return eligible


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
        A fitted Gaussian mixture (possibly inside a
        :class:`~sklearn.frozen.FrozenEstimator`), or a fitted outlier
        detector that keeps its mixture in ``estimator_`` (such as
        ``NSigmaOutlierDetector``).

    Returns
    -------
    mixture : object
        The fitted mixture, unwrapped from any FrozenEstimator.

    detector : object or None
        ``estimator`` when it is a detector wrapping the mixture, else None.

    Raises
    ------
    TypeError
        If ``estimator`` is neither a Gaussian mixture nor a detector around one.
    sklearn.exceptions.NotFittedError
        If it is not fitted.
    """
    estimator = unfreeze(estimator)
    detector = None
    if _is_wrapper(estimator):
        check_is_fitted(estimator)
        detector, estimator = estimator, unfreeze(estimator.estimator_)
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
    """Indices of the components of weight at least ``min_weight`` to draw.

    The heaviest component always counts; for a detector that says which
    components it uses (``eligible_components_``), only those are drawn.

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
    keep = eligible_components(mixture_weights(mixture), min_weight)
    eligible = getattr(detector, "eligible_components_", None)
    if eligible is not None:
        keep &= np.asarray(eligible, dtype=bool)
    return np.flatnonzero(keep)


def _missing_attributes(mixture) -> list[str]:
    missing = [
        attribute
        for attribute in ("means_", "covariance_type")
        if not hasattr(mixture, attribute)
    ]
    if not (
        hasattr(mixture, "precisions_cholesky_") or hasattr(mixture, "covariances_")
    ):
        missing.append("precisions_cholesky_ or covariances_")
    return missing


class FittedMixture:
    """Means, precision Cholesky factors, covariance type and weights of a mixture.

    Build it with :meth:`from_estimator`. The arrays are float64 NumPy
    arrays and are not copied: treat them as read-only.

    Parameters
    ----------
    means : ndarray of shape (n_components, n_features)
        Component means.

    precisions_cholesky : ndarray
        Precision Cholesky factors in the layout of ``covariance_type``.

    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        Layout of ``precisions_cholesky``.

    weights : ndarray of shape (n_components,)
        Mixture weights.

    dtype : dtype, default=np.float64
        Floating dtype of the estimator's fitted parameters.

    Attributes
    ----------
    n_components, n_features : int
        The shape of ``means``.
    """

    def __init__(
        self, means, precisions_cholesky, covariance_type, weights, dtype=np.float64
    ):
        self.means = means
        self.n_components, self.n_features = means.shape
        self.precisions_cholesky = precisions_cholesky
        self.covariance_type = covariance_type
        self.weights = weights
        self.dtype = np.dtype(dtype)
        self._kernels = {}

    @classmethod
    def from_estimator(cls, estimator, n_features: int | None = None):
        """Read a fitted mixture, a FrozenEstimator around one, or a detector.

        Parameters
        ----------
        estimator : object
            A fitted Gaussian mixture (``means_``, ``covariance_type`` and
            ``precisions_cholesky_`` or ``covariances_``; ``weights_``
            optional), possibly inside a FrozenEstimator, or a fitted
            NSigmaOutlierDetector.

        n_features : int, default=None
            The number of features the data has, checked against ``means_``.

        Returns
        -------
        fitted : FittedMixture
            The view.

        Raises
        ------
        TypeError
            If ``estimator`` does not look like a fitted Gaussian mixture.
        ValueError
            If its attributes disagree with each other or with ``n_features``.
        """
        view = getattr(estimator, "_fitted_mixture", None)
        if isinstance(view, FittedMixture):
            view._check_n_features(n_features, describe(estimator))
            return view
        name = describe(estimator)
        mixture = unfreeze(estimator)
        missing = _missing_attributes(mixture)
        if missing:
            raise TypeError(
                "estimator must be a Gaussian mixture that exposes means_, "
                "covariance_type and precisions_cholesky_ (or covariances_) after "
                "fit, such as GaussianMixture, BayesianGaussianMixture or "
                "NSigmaGaussianMixture, unfitted or fitted and wrapped in "
                f"sklearn.frozen.FrozenEstimator; the fitted {name} has no "
                f"{', '.join(missing)}."
            )
        covariance_type = mixture.covariance_type
        if covariance_type not in COVARIANCE_TYPES:
            raise ValueError(
                f"The covariance_type of the fitted {name} must be one of "
                f"{COVARIANCE_TYPES}, got {covariance_type!r}."
            )
        raw_means = to_numpy(mixture.means_)
        means = np.asarray(raw_means, dtype=np.float64)
        if means.ndim != 2:
            raise ValueError(
                f"The fitted {name} has means_ of shape {means.shape}: expected "
                "(n_components, n_features)."
            )
        view = cls(means, None, covariance_type, None, dtype=raw_means.dtype)
        view._check_n_features(n_features, name)
        view.precisions_cholesky = view._factors(mixture, name)
        view.weights = mixture_weights(mixture, view.n_components)
        if view.weights.shape != (view.n_components,):
            raise ValueError(
                f"The fitted {name} has weights_ of shape {view.weights.shape}; "
                f"expected ({view.n_components},)."
            )
        return view

    def _check_n_features(self, n_features, name) -> None:
        if n_features is not None and self.n_features != n_features:
            raise ValueError(
                f"The fitted {name} has means_ of shape {self.means.shape}, but X "
                f"has {n_features} features: expected (n_components, "
                f"{n_features})."
            )

    def _factors(self, mixture, name) -> np.ndarray:
        """The precision Cholesky factors, from ``covariances_`` if need be."""
        has_factors = hasattr(mixture, "precisions_cholesky_")
        source = "precisions_cholesky_" if has_factors else "covariances_"
        factors = np.asarray(to_numpy(getattr(mixture, source)), dtype=np.float64)
        expected = parameter_shape(
            self.covariance_type, self.n_components, self.n_features
        )
        if factors.shape != expected:
            raise ValueError(
                f"The fitted {name} has {source} of shape {factors.shape}; "
                f"covariance_type={self.covariance_type!r} with "
                f"{self.n_components} components and {self.n_features} features "
                f"needs {expected}."
            )
        if has_factors:
            return factors
        return precisions_cholesky_from_covariances(factors, self.covariance_type)

    def with_parameters(self, means, precisions_cholesky) -> "FittedMixture":
        """The same mixture (weights, covariance type) with other ellipsoids."""
        return type(self)(
            np.asarray(means, dtype=np.float64),
            np.asarray(precisions_cholesky, dtype=np.float64),
            self.covariance_type,
            self.weights,
            self.dtype,
        )

    def eligible(self, min_weight: float) -> np.ndarray:
        """Components of weight at least ``min_weight``; the heaviest always."""
        return eligible_components(self.weights, min_weight)

    def kernel(
        self, dtype, components=None, check_finite_for: str | None = None
    ) -> MahalanobisKernel:
        """The distance kernel in ``dtype``, over all or some components.

        Built once per dtype and set of components, then reused. Building it
        checks that every factor is finite and invertible.

        Parameters
        ----------
        dtype : dtype or str
            The floating dtype of the computation ('float32' or 'float64').

        components : ndarray of bool of shape (n_components,), default=None
            The components to include; None for all of them.

        check_finite_for : str, default=None
            Name of the estimator on whose behalf the kernel checks ``X`` for
            NaN and infinity (None: ``X`` is already checked).

        Returns
        -------
        kernel : MahalanobisKernel
            The kernel.
        """
        dtype = np.dtype(dtype)
        key = (dtype.name, None if components is None else components.tobytes())
        kernel = self._kernels.get(key)
        if kernel is None:
            means, factors = self.means, self.precisions_cholesky
            if components is not None:
                means = means[components]
                if self.covariance_type != "tied":
                    factors = factors[components]
            kernel = MahalanobisKernel(means, factors, self.covariance_type, dtype)
            self._kernels[key] = kernel
        return kernel.checking_finite(check_finite_for)

    def __getstate__(self):
        # The kernels are rebuilt where the view is unpickled (a Dask worker).
        state = dict(self.__dict__)
        state["_kernels"] = {}
        return state
