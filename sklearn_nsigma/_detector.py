"""NSigmaOutlierDetector: any Gaussian mixture as an outlier detector in sigmas."""

from contextlib import contextmanager
from numbers import Real

import numpy as np
from numpy.typing import ArrayLike
from sklearn import config_context
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    MetaEstimatorMixin,
    OutlierMixin,
    TransformerMixin,
    clone,
)
from sklearn.frozen import FrozenEstimator
from sklearn.mixture import BayesianGaussianMixture
from sklearn.utils.validation import check_is_fitted, check_memory, validate_data

from sklearn_nsigma._compat import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    _is_numpy_namespace,
    get_namespace,
    move_to,
)
from sklearn_nsigma._coverage import coverage_to_sigma
from sklearn_nsigma._dask import is_dask_array, map_row_blocks
from sklearn_nsigma._dask_fit import fit_dask, validate_dask_data
from sklearn_nsigma._distance import MahalanobisKernel, kernel_dtype
from sklearn_nsigma._geometry import (
    COVARIANCE_TYPES,
    parameter_shape,
    precisions_cholesky_from_covariances,
)

# Components of the default BayesianGaussianMixture: an upper bound, the
# Dirichlet process prior leaves the ones the data does not need nearly empty.
DEFAULT_N_COMPONENTS = 10
# The floor of min_weight="auto", and the number of training samples a
# component must hold at least.
AUTO_MIN_WEIGHT = 0.05
AUTO_MIN_SAMPLES = 2

_THRESHOLD_PARAMETERS = ("n_sigma", "coverage", "contamination", "min_weight")


def _fit_estimator(estimator, X, y):
    """Fit ``estimator`` on NumPy ``(X, y)``.

    A module-level function, so that :class:`joblib.Memory` can cache it.
    Array API dispatch is turned off: the detector works on NumPy arrays,
    and GaussianMixture's k-means init refuses to run with it on.
    """
    if is_dask_array(X) and not isinstance(estimator, FrozenEstimator):
        return fit_dask(estimator, X, y)  # EM where the blocks live
    with config_context(array_api_dispatch=False):
        return estimator.fit(X, y)


@contextmanager
def _unchanged_on_error(estimator):
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


def _describe(estimator) -> str:
    if isinstance(estimator, FrozenEstimator):
        return f"FrozenEstimator({type(estimator.estimator).__name__})"
    return type(estimator).__name__


def _mixture_parameters(mixture, n_features: int):
    """Means, precision Cholesky factors, covariance type and weights.

    Raises TypeError when ``mixture`` does not look like a fitted Gaussian
    mixture, ValueError when its attributes are inconsistent with each other
    or with ``n_features``.
    """
    name = _describe(mixture)
    has_factors = hasattr(mixture, "precisions_cholesky_")
    has_covariances = hasattr(mixture, "covariances_")
    missing = [
        attribute
        for attribute in ("means_", "covariance_type")
        if not hasattr(mixture, attribute)
    ]
    if not (has_factors or has_covariances):
        missing.append("precisions_cholesky_ or covariances_")
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
    means = np.asarray(mixture.means_, dtype=np.float64)
    if means.ndim != 2 or means.shape[1] != n_features:
        raise ValueError(
            f"The fitted {name} has means_ of shape {means.shape}, but X has "
            f"{n_features} features: expected (n_components, {n_features})."
        )
    n_components = means.shape[0]
    if has_factors:
        source = "precisions_cholesky_"
        factors = np.asarray(mixture.precisions_cholesky_, dtype=np.float64)
    else:
        source = "covariances_"
        factors = np.asarray(mixture.covariances_, dtype=np.float64)
    expected = parameter_shape(covariance_type, n_components, n_features)
    if factors.shape != expected:
        raise ValueError(
            f"The fitted {name} has {source} of shape {factors.shape}; "
            f"covariance_type={covariance_type!r} with {n_components} "
            f"components and {n_features} features needs {expected}."
        )
    if not has_factors:
        factors = precisions_cholesky_from_covariances(factors, covariance_type)
    weights = getattr(mixture, "weights_", None)
    if weights is None:
        weights = np.full(n_components, 1.0 / n_components)
    else:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (n_components,):
            raise ValueError(
                f"The fitted {name} has weights_ of shape {weights.shape}; "
                f"expected ({n_components},)."
            )
    return means, factors, covariance_type, weights


def _eligible_components(weights: np.ndarray, min_weight: float) -> np.ndarray:
    """Components whose weight is at least ``min_weight``; the heaviest always."""
    eligible = weights >= min_weight
    eligible[np.argmax(weights)] = True
    return eligible


class NSigmaOutlierDetector(
    OutlierMixin,
    TransformerMixin,
    ClassNamePrefixFeaturesOutMixin,
    MetaEstimatorMixin,
    BaseEstimator,
):
    """Outlier detector that thresholds the Mahalanobis distance, in sigmas.

    Wraps any Gaussian mixture (:class:`~sklearn.mixture.GaussianMixture`,
    :class:`~sklearn.mixture.BayesianGaussianMixture`,
    :class:`NSigmaGaussianMixture`, ...). A sample is an inlier when it lies
    inside the threshold ellipsoid of at least one component:
    ``min_k d_k(x) <= threshold``, where
    ``d_k(x) = sqrt((x - mu_k)^T S_k^{-1} (x - mu_k))`` is its Mahalanobis
    distance to component ``k`` (its distance "in sigmas") and the minimum
    runs over the components of non-negligible weight (see ``min_weight``).

    It follows the outlier API of
    :class:`~sklearn.covariance.EllipticEnvelope` (``predict`` returns +1
    for inliers and -1 for outliers), and is also a transformer whose output
    is the distance of every sample to every component.

    Parameters
    ----------
    estimator : estimator object, default=None
        The mixture. An unfitted estimator is cloned and the clone is fitted
        in :meth:`fit` (the object passed is never modified); a fitted one
        wrapped in :class:`sklearn.frozen.FrozenEstimator` is used as is. It
        must expose ``means_``, ``covariance_type`` and
        ``precisions_cholesky_`` (or ``covariances_``) once fitted, and may
        expose ``weights_``; anything else raises a TypeError in
        :meth:`fit`. If None, a
        ``BayesianGaussianMixture(n_components=10, random_state=random_state)``:
        its Dirichlet process prior adapts the number of components to the
        data (up to 10), and the unused ones are left out by ``min_weight``.

    n_sigma : float, default=3.0
        The threshold as a Mahalanobis radius: positive and finite. Larger
        values flag fewer samples. Used unless ``coverage`` or
        ``contamination`` is set. The probability mass a component holds
        inside its n-sigma ellipsoid falls with the dimension (see Notes).

    coverage : float, default=None
        The threshold as the probability mass, in (0, 1), that each
        component's ellipsoid must hold: the radius is
        ``coverage_to_sigma(coverage, n_features)``, from the chi-square
        distribution with ``n_features`` degrees of freedom. For instance
        ``coverage=sigma_to_coverage(3, 1)`` (99.73 %, the 1-D 3-sigma mass)
        gives a radius of 3 in 1-D and 5.19 in 10-D. Replaces ``n_sigma``.

    contamination : float, default=None
        The threshold as the fraction of training samples to flag, in
        (0, 0.5], as in :class:`~sklearn.covariance.EllipticEnvelope`: the
        radius is the ``1 - contamination`` quantile of the training
        samples' distances. Replaces ``n_sigma`` and ``coverage``.

    min_weight : float or 'auto', default='auto'
        Components whose mixture weight (``weights_``) is below
        ``min_weight`` do not make samples inliers; the heaviest component
        is always used. A weight is roughly the fraction of training samples
        a component explains. 'auto' means ``max(0.05, 2 / n_samples)``: a
        component must hold at least 5 % of the training samples, and at
        least two of them. This leaves out the near-empty components of a
        :class:`~sklearn.mixture.BayesianGaussianMixture` (they get about
        one sample's weight, or less, and the prior's broad covariance
        centred between the clusters), and the broad low-weight components
        that a mixture fits to scattered outliers in the training data,
        whose ellipsoids would otherwise cover them. Noise heavier than
        ``min_weight`` can still earn such a component: then fit fewer
        components or raise ``min_weight``. Lower it (``0`` uses every
        component) when genuine clusters hold less than 5 % of the data, or
        when the mixture has many components (more than about 20). Mixtures
        without ``weights_`` weigh their components equally.

    memory : str or object with the joblib.Memory interface, default=None
        Cache of the fitted mixture, as in :class:`~sklearn.pipeline.Pipeline`.
        The mixture depends only on ``estimator`` and the data, not on the
        threshold, so with a cache a search over ``n_sigma``, ``coverage``,
        ``contamination`` or ``min_weight`` fits it once per split (see
        Notes). By default no caching is done; a string is the path of the
        cache directory. The cache is keyed on the estimator's parameters
        and the data: give the mixture a fixed ``random_state``, or a cached
        fit is reused where a new random one was meant. Not used with a
        ``FrozenEstimator``.

    random_state : int, RandomState instance or None, default=None
        Seed of the default mixture. Used only when ``estimator`` is None;
        set the ``random_state`` of your own estimator instead.

    Attributes
    ----------
    estimator_ : estimator object
        The fitted mixture (the ``FrozenEstimator`` itself when one was
        given).

    offset_ : float
        ``-threshold_``: ``decision_function = score_samples - offset_``.

    threshold_ : float
        The threshold radius, in sigmas: ``n_sigma``,
        ``coverage_to_sigma(coverage, n_features)``, or the distance
        quantile that ``contamination`` implies.

    min_weight_ : float
        The minimum weight used (``min_weight``, or its 'auto' value).

    eligible_components_ : ndarray of bool of shape (n_components,)
        Whether each component's ellipsoid can make samples inliers (its
        weight is at least ``min_weight_``, or it is the heaviest).

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    NSigmaOutlierFilter : Drops the outlier rows, at fit time only, in an
        imbalanced-learn pipeline.
    make_outlier_scorer : Scorers for searching the threshold, with outliers
        as the positive class.
    sklearn.covariance.EllipticEnvelope : One robust Gaussian, thresholded by
        contamination.

    Notes
    -----
    **Scores.** ``score_samples(x) = -min_k d_k(x)``, the negated distance
    in sigmas to the nearest eligible component (higher is more normal);
    ``offset_ = -threshold_``; so ``decision_function(x) =
    threshold_ - min_k d_k(x)`` reads as "sigmas to spare": positive inside,
    0 on the boundary (an inlier), negative outside.

    **Which threshold wins.** ``contamination`` if it is set, else
    ``coverage`` if it is set, else ``n_sigma``. ``n_sigma`` always has a
    value, so setting ``coverage`` or ``contamination`` is enough to replace
    it, and a search over one of them needs no other change.

    **Sigmas and probability.** The mass of a d-dimensional Gaussian inside
    its n-sigma ellipsoid is ``chi2.cdf(n**2, d)``: 3 sigma holds 99.73 % in
    1-D, 98.89 % in 2-D, but only 46.8 % in 10-D, where the default flags
    about half of the samples of a perfect Gaussian. In more than a few
    dimensions, set the threshold with ``coverage`` (or ``contamination``).

    **Searching the threshold.** With labelled data (``y`` = +1 for inliers,
    -1 for outliers), :class:`~sklearn.model_selection.GridSearchCV` can
    search ``n_sigma``, ``coverage`` or ``contamination`` with a thresholded
    score such as ``make_outlier_scorer("f1")``. Threshold-free metrics (ROC
    AUC, average precision) rank samples by ``score_samples`` and do not
    change with the threshold. Outlier detectors are not classifiers, so the
    search's default folds are unstratified (and unshuffled): pass
    ``cv=StratifiedKFold(5, shuffle=True, random_state=0)`` so that every
    fold holds outliers. Set ``memory`` so that the mixture is fitted once
    per split rather than once per candidate threshold.

    **Large and non-NumPy data.** ``score_samples``, ``decision_function``,
    ``predict`` and ``transform`` accept a Dask array (chunked along rows
    only) and return a lazy Dask array computed block by block, with the
    fitted detector shipped to each worker once. Under
    ``sklearn.config_context(array_api_dispatch=True)`` they also accept
    array API arrays (PyTorch, CuPy, array-api-strict ...) and return the same
    namespace and device. ``fit`` always runs on NumPy (array API input is
    copied to the host) and the fitted attributes are NumPy arrays, which is
    why the ``array_api_support`` tag is False.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture
    >>> from sklearn_nsigma import NSigmaOutlierDetector
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(0, 1, (200, 2)), rng.normal(8, 1, (200, 2))])
    >>> detector = NSigmaOutlierDetector(GaussianMixture(2, random_state=0))
    >>> detector.fit(X).predict([[0.0, 0.5], [4.0, 4.0], [8.5, 8.0]])
    array([ 1, -1,  1])
    >>> detector.threshold_
    3.0
    >>> detector.transform(X[:3]).shape
    (3, 2)
    >>> round(detector.set_params(coverage=0.5).fit(X).threshold_, 3)
    1.177
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"]), None],
        "n_sigma": [Interval(Real, 0, None, closed="neither")],
        "coverage": [Interval(Real, 0, 1, closed="neither"), None],
        "contamination": [Interval(Real, 0, 0.5, closed="right"), None],
        "min_weight": [Interval(Real, 0, 1, closed="both"), StrOptions({"auto"})],
        "memory": [None, str, HasMethods(["cache"])],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        n_sigma=3.0,
        coverage=None,
        contamination=None,
        min_weight="auto",
        memory=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.n_sigma = n_sigma
        self.coverage = coverage
        self.contamination = contamination
        self.min_weight = min_weight
        self.memory = memory
        self.random_state = random_state

    # -- fitting ----------------------------------------------------------
    def _check_threshold_params(self) -> None:
        """Reject booleans, which the parameter constraints take for numbers."""
        for name in _THRESHOLD_PARAMETERS:
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)):
                raise TypeError(
                    f"The {name!r} parameter of {type(self).__name__} must "
                    f"not be a bool, got {value!r}."
                )

    def _resolve_estimator(self):
        if self.estimator is None:
            return BayesianGaussianMixture(
                n_components=DEFAULT_N_COMPONENTS, random_state=self.random_state
            )
        return self.estimator

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: ArrayLike, y: object = None) -> "NSigmaOutlierDetector":
        """Fit the mixture (unless frozen) and set the threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples, without missing or infinite values.

        y : Ignored
            Not used by the mixtures of scikit-learn; passed on to the
            estimator's ``fit``.

        Returns
        -------
        self : object
            The fitted detector. If anything fails (bad parameters, bad
            ``X``, an unsupported estimator), it is left as it was.
        """
        self._check_threshold_params()
        with _unchanged_on_error(self):
            self._fit(X, y)
        return self

    def _fit(self, X, y) -> None:
        xp, _ = get_namespace(X)
        if is_dask_array(X):
            X = validate_dask_data(self, X)
        else:
            X = validate_data(self, X, dtype=[xp.float64, xp.float32])
        if not _is_numpy_namespace(xp):
            X = move_to(X, xp=np, device="cpu")
        n_samples, n_features = X.shape
        estimator = self._resolve_estimator()
        if isinstance(estimator, FrozenEstimator):
            fitted = _fit_estimator(estimator, X, y)
        else:
            cached_fit = check_memory(self.memory).cache(_fit_estimator)
            fitted = cached_fit(clone(estimator), X, y)
        means, factors, covariance_type, weights = _mixture_parameters(
            fitted, n_features
        )
        # Building the kernel checks that every factor is finite and invertible.
        MahalanobisKernel(means, factors, covariance_type, "float64")
        if self.min_weight == "auto":
            min_weight = max(AUTO_MIN_WEIGHT, AUTO_MIN_SAMPLES / n_samples)
        else:
            min_weight = float(self.min_weight)

        self.estimator_ = fitted
        self._means = means
        self._precisions_cholesky = factors
        self._covariance_type = covariance_type
        self.min_weight_ = min_weight
        self.eligible_components_ = _eligible_components(weights, min_weight)
        self._n_features_out = means.shape[0]
        if self.contamination is not None:
            if is_dask_array(X):
                scores = self.score_samples(X).compute()
            else:
                scores = self._score_samples(X, check_finite=False)  # fit checked X
            self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
            self.threshold_ = -self.offset_
        else:
            if self.coverage is not None:
                self.threshold_ = float(coverage_to_sigma(self.coverage, n_features))
            else:
                self.threshold_ = float(self.n_sigma)
            self.offset_ = -self.threshold_

    # -- distances ----------------------------------------------------------
    def _kernel(
        self, X, eligible_only: bool = False, check_finite: bool = True
    ) -> MahalanobisKernel:
        """The distance kernel, over all components or the eligible ones.

        With ``check_finite`` it checks X for NaN and infinity, which
        ``_validate_X`` leaves to it.
        """
        means, factors = self._means, self._precisions_cholesky
        if eligible_only:
            eligible = self.eligible_components_
            means = means[eligible]
            if self._covariance_type != "tied":
                factors = factors[eligible]
        return MahalanobisKernel(
            means,
            factors,
            self._covariance_type,
            kernel_dtype(X),
            check_finite_for=type(self).__name__ if check_finite else None,
        )

    def _score_samples(self, X, check_finite: bool = True) -> np.ndarray:
        # Distances to ineligible components are never computed.
        kernel = self._kernel(X, eligible_only=True, check_finite=check_finite)
        squared = kernel.min_scaled(X, np.ones(kernel.n_components))
        if not isinstance(squared, np.ndarray):
            xp, _ = get_namespace(squared)
            return -xp.sqrt(squared)
        return np.negative(np.sqrt(squared, out=squared), out=squared)

    def _validate_X(self, X):
        # NaN and infinity are left to the distance kernel (see _kernel).
        check_is_fitted(self)
        xp, _ = get_namespace(X)
        return validate_data(
            self,
            X,
            reset=False,
            dtype=[xp.float64, xp.float32],
            ensure_all_finite=False,
        )

    def _lazy(self, method: str, X, n_columns=None, dtype="float"):
        """The result of ``method`` on a Dask array, computed block by block."""
        check_is_fitted(self)
        return map_row_blocks(self, method, X, n_columns=n_columns, dtype=dtype)

    def score_samples(self, X: ArrayLike) -> np.ndarray:
        """Compute the negated Mahalanobis distance to the nearest eligible component.

        ``-min_k d_k(x)`` over the components in ``eligible_components_``,
        in sigmas: 0 at a component's mean, lower for more abnormal samples.
        It does not depend on the threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            The score of every sample, in the floating dtype of ``X``.
        """
        if is_dask_array(X):
            return self._lazy("score_samples", X)
        X = self._validate_X(X)
        return self._score_samples(X)

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Compute the sigmas to spare, ``score_samples(X) - offset_``.

        ``threshold_ - min_k d_k(x)``: positive for inliers, 0 on the
        boundary of the threshold ellipsoids (an inlier), negative for
        outliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        decision : ndarray of shape (n_samples,)
            The decision value of every sample, in the floating dtype of
            ``X``.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Label each sample +1 (inlier) or -1 (outlier).

        A sample is an inlier when ``decision_function(x) >= 0``: it lies
        inside (or on) the threshold ellipsoid of at least one eligible
        component. No (n_samples, n_components) array is formed.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        labels : ndarray of int of shape (n_samples,)
            +1 for inliers, -1 for outliers.
        """
        if is_dask_array(X):
            return self._lazy("predict", X, dtype=int)
        values = self.decision_function(X)
        if not isinstance(values, np.ndarray):
            xp, _ = get_namespace(values)
            labels = xp.ones(values.shape, dtype=xp.int64, device=values.device)
            return xp.where(values >= 0, labels, -labels)
        is_inlier = np.full(values.shape[0], -1, dtype=int)
        is_inlier[values >= 0] = 1
        return is_inlier

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Compute the Mahalanobis distance of each sample to each component.

        Every component is included, eligible or not, in the order of the
        mixture's ``means_``; the output features are named
        ``nsigmaoutlierdetector0``, ``nsigmaoutlierdetector1``, ... (see
        :meth:`get_feature_names_out`). Use :meth:`set_output` for pandas
        or polars output.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        distances : ndarray of shape (n_samples, n_components)
            Distances in sigmas, in the floating dtype of ``X``.
        """
        if is_dask_array(X):
            return self._lazy("transform", X, n_columns=self._n_features_out)
        X = self._validate_X(X)
        return self._kernel(X).distances(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.array_api_support = False
        return tags
