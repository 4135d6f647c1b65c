"""NSigmaOutlierFilter: drop outlier rows at fit time, in a resampling pipeline."""

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_outlier_detector
from sklearn.utils.validation import check_consistent_length, validate_data

from sklearn_nsigma._compat import HasMethods, _fit_context, _safe_indexing
from sklearn_nsigma._detector import NSigmaOutlierDetector
from sklearn_nsigma._fitting import unchanged_on_error


class NSigmaOutlierFilter(MetaEstimatorMixin, BaseEstimator):
    """Drop the training rows that an outlier detector flags.

    A sampler with the ``fit_resample`` interface of imbalanced-learn: in an
    :class:`imblearn.pipeline.Pipeline`, the rows it drops are dropped while
    the pipeline is fitted only, so the downstream model trains on the
    inliers, while ``predict``, ``score`` and ``transform`` of the pipeline
    see every row. scikit-learn's own :class:`~sklearn.pipeline.Pipeline`
    cannot drop rows. imbalanced-learn is not needed to use this class on
    its own.

    The rows are chosen by a clone of ``detector``, fitted on ``X`` alone
    (``y`` is never given to it): a row is kept when the detector labels it
    an inlier (+1). The threshold and the mixture are the detector's
    parameters: in a search, ``filter__detector__n_sigma`` for a step
    named ``"filter"``.

    Parameters
    ----------
    detector : outlier detector, default=None
        The detector that chooses the rows: an unfitted
        :class:`NSigmaOutlierDetector`, or any scikit-learn outlier detector
        (``fit_predict`` returning +1 for inliers and -1 for outliers). It
        is cloned, and the clone is fitted in :meth:`fit`. If None, a
        ``NSigmaOutlierDetector()``: its default mixture and calibrated
        3-sigma threshold.

    Attributes
    ----------
    detector_ : outlier detector
        The fitted clone of ``detector``.

    sample_indices_ : ndarray of int of shape (n_kept,)
        Indices of the rows of the last ``X`` that were kept.

    n_features_in_ : int
        Number of features of the ``X`` given to :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features of that ``X``, if it has string feature
        names (a DataFrame); the detector is fitted on its values.

    See Also
    --------
    NSigmaOutlierDetector : The default detector that chooses the rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture
    >>> from sklearn_nsigma import NSigmaOutlierDetector, NSigmaOutlierFilter
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(0, 1, (100, 2)), [[10.0, 10.0]]])
    >>> y = np.arange(101)
    >>> detector = NSigmaOutlierDetector(GaussianMixture(random_state=0))
    >>> X_kept, y_kept = NSigmaOutlierFilter(detector).fit_resample(X, y)
    >>> X_kept.shape, 100 in y_kept
    ((100, 2), False)
    """

    _parameter_constraints: dict = {
        "detector": [HasMethods(["fit_predict"]), None],
    }

    def __init__(self, detector=None):
        self.detector = detector

    def set_params(self, **params) -> "NSigmaOutlierFilter":
        """Set the parameters of this filter and of its detector.

        Parameters
        ----------
        **params : dict
            ``detector``, or ``detector__<name>`` for a parameter of the
            detector (``detector__n_sigma``, ``detector__estimator``, ...).

        Returns
        -------
        self : NSigmaOutlierFilter
            This filter.
        """
        detector_params = NSigmaOutlierDetector().get_params(deep=False)
        moved = sorted(name for name in params if name in detector_params)
        if moved:
            raise ValueError(
                f"{moved} are parameters of the filter's detector, not of "
                "NSigmaOutlierFilter: set "
                f"{', '.join(f'detector__{name}' for name in moved)} (for a "
                "step named 'filter' of a pipeline, "
                f"{', '.join(f'filter__detector__{name}' for name in moved)})."
            )
        return super().set_params(**params)

    def _resolve_detector(self):
        if self.detector is None:
            return NSigmaOutlierDetector()
        if not is_outlier_detector(self.detector):
            raise TypeError(
                "detector must be an outlier detector (such as "
                "NSigmaOutlierDetector), got "
                f"{type(self.detector).__name__}. Wrap a Gaussian mixture in "
                "one: NSigmaOutlierFilter(NSigmaOutlierDetector(mixture))."
            )
        return clone(self.detector)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: ArrayLike, y: object = None) -> "NSigmaOutlierFilter":
        """Fit the detector on ``X`` and find the rows to keep.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to choose from, without missing or infinite values.

        y : Ignored
            Not used: the detector is fitted on ``X`` alone.

        Returns
        -------
        self : object
            The fitted filter. If anything fails, it is left as it was.
        """
        detector = self._resolve_detector()
        with unchanged_on_error(self):
            X = validate_data(self, X, dtype=[np.float64, np.float32])
            labels = detector.fit_predict(X)
            self.detector_ = detector
            self.sample_indices_ = np.flatnonzero(np.asarray(labels) == 1)
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
