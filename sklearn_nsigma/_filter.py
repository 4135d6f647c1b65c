"""NSigmaOutlierFilter: drop outlier rows at fit time, in a resampling pipeline."""

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, MetaEstimatorMixin
from sklearn.utils.validation import check_consistent_length, validate_data

from sklearn_nsigma._compat import _fit_context, _safe_indexing
from sklearn_nsigma._detector import NSigmaOutlierDetector, _unchanged_on_error


class NSigmaOutlierFilter(MetaEstimatorMixin, BaseEstimator):
    """Drop the training rows that lie outside every component's n-sigma ellipsoid.

    A sampler with the ``fit_resample`` interface of imbalanced-learn: in an
    :class:`imblearn.pipeline.Pipeline`, the rows it drops are dropped while
    the pipeline is fitted only, so the downstream model trains on the
    inliers, while ``predict``, ``score`` and ``transform`` of the pipeline
    see every row. scikit-learn's own :class:`~sklearn.pipeline.Pipeline`
    cannot drop rows. imbalanced-learn is not needed to use this class on
    its own.

    The rows are chosen by an :class:`NSigmaOutlierDetector` with the same
    parameters, fitted on ``X`` alone (``y`` is never given to the mixture):
    a row is kept when the detector predicts it an inlier.

    Parameters
    ----------
    estimator : estimator object, default=None
        The mixture, as in :class:`NSigmaOutlierDetector`.

    n_sigma : float, default=3.0
        The threshold in sigmas, as in :class:`NSigmaOutlierDetector`: with
        the default calibration, a row is dropped when it is as unlikely as
        a 3-sigma deviation in one dimension (0.27 %), in any dimension.

    calibration : {'predictive', 'chi2', 'none'}, default='predictive'
        What ``n_sigma`` means, as in :class:`NSigmaOutlierDetector`:
        'none' reads it as the raw Mahalanobis radius.

    coverage : float, default=None
        The threshold as the probability mass each component's ellipsoid
        must hold, as in :class:`NSigmaOutlierDetector`.

    contamination : float, default=None
        The fraction of training rows to drop, in (0, 0.5], as in
        :class:`NSigmaOutlierDetector`.

    min_weight : float or 'auto', default='auto'
        Minimum weight of the components that keep rows, as in
        :class:`NSigmaOutlierDetector`.

    robust : float, default=None
        Re-estimate each component from its training rows inside this
        chi-square quantile, as in :class:`NSigmaOutlierDetector`.

    memory : str or object with the joblib.Memory interface, default=None
        Cache of the fitted mixture, as in :class:`NSigmaOutlierDetector`:
        with it, a search over the threshold fits the mixture once per
        split.

    random_state : int, RandomState instance or None, default=None
        Seed of the default mixture, as in :class:`NSigmaOutlierDetector`.

    Attributes
    ----------
    detector_ : NSigmaOutlierDetector
        The fitted detector.

    sample_indices_ : ndarray of int of shape (n_kept,)
        Indices of the rows of the last ``X`` that were kept.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    NSigmaOutlierDetector : The detector that chooses the rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture
    >>> from sklearn_nsigma import NSigmaOutlierFilter
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(0, 1, (100, 2)), [[10.0, 10.0]]])
    >>> y = np.arange(101)
    >>> X_kept, y_kept = NSigmaOutlierFilter(
    ...     GaussianMixture(random_state=0)
    ... ).fit_resample(X, y)
    >>> X_kept.shape, 100 in y_kept
    ((100, 2), False)
    """

    _parameter_constraints: dict = dict(NSigmaOutlierDetector._parameter_constraints)

    def __init__(
        self,
        estimator=None,
        *,
        n_sigma=3.0,
        calibration="predictive",
        coverage=None,
        contamination=None,
        min_weight="auto",
        robust=None,
        memory=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.n_sigma = n_sigma
        self.calibration = calibration
        self.coverage = coverage
        self.contamination = contamination
        self.min_weight = min_weight
        self.robust = robust
        self.memory = memory
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: ArrayLike, y: object = None) -> "NSigmaOutlierFilter":
        """Fit the detector on ``X`` and find the rows to keep.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples, without missing or infinite values.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted filter.
        """
        # The detector's check, run on this filter's own parameters: its
        # errors name NSigmaOutlierFilter, whose parameters they are.
        NSigmaOutlierDetector._check_threshold_params(self)
        detector = NSigmaOutlierDetector(**self.get_params(deep=False))
        with _unchanged_on_error(self):
            X = validate_data(self, X, dtype=[np.float64, np.float32])
            detector.fit(X)
            self.detector_ = detector
            self.sample_indices_ = np.flatnonzero(detector.predict(X) == 1)
        return self

    def fit_resample(self, X: ArrayLike, y: ArrayLike | None) -> tuple:
        """Fit, then return the rows of ``X`` and ``y`` that are inliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples. A DataFrame stays a DataFrame (with its index).

        y : array-like of shape (n_samples,) or (n_samples, n_outputs), or None
            Targets, returned with the same rows. They do not take part in
            the choice of the rows.

        Returns
        -------
        X_resampled : array-like of shape (n_kept, n_features)
            The kept rows of ``X``, of the type of ``X``.

        y_resampled : array-like of shape (n_kept,) or (n_kept, n_outputs), or None
            The kept rows of ``y``.
        """
        if y is not None:
            check_consistent_length(X, y)
        self.fit(X)
        X_resampled = _safe_indexing(X, self.sample_indices_)
        if y is None:
            return X_resampled, None
        return X_resampled, _safe_indexing(y, self.sample_indices_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
