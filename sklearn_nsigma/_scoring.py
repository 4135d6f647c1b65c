"""Scorers for outlier detectors, with the outliers as the positive class."""

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    make_scorer,
    matthews_corrcoef,
    roc_auc_score,
)

from sklearn_nsigma._compat import StrOptions, validate_params

# Metrics of the predicted labels: they change with the threshold. Precision,
# recall and F1 are computed here from the confusion counts: a search scores
# every candidate on every split, and these take microseconds.
_THRESHOLDED = ("f1", "precision", "recall")
_SYMMETRIC = {
    "balanced_accuracy": balanced_accuracy_score,
    "matthews_corrcoef": matthews_corrcoef,
}
# Metrics of the ranking: they ignore the threshold.
_RANKING = {
    "roc_auc": roc_auc_score,
    "average_precision": average_precision_score,
}
OUTLIER_METRICS = (*_THRESHOLDED, *_SYMMETRIC, *_RANKING)


def _length(values: ArrayLike) -> int:
    shape = np.shape(values)
    return shape[0] if shape else 1


def _is_outlier(y_true: ArrayLike, y_pred: ArrayLike, sample_weight=None) -> np.ndarray:
    """``y_true == -1``, after checking the labels are +1 and -1, one per sample.

    ``y_pred`` (labels or scores of the rows of X) and ``sample_weight``
    must have as many values as ``y_true``.
    """
    y_true = np.asarray(y_true)
    lengths = {"y": _length(y_true), "the predictions for X": _length(y_pred)}
    if sample_weight is not None:
        lengths["sample_weight"] = _length(sample_weight)
    if len(set(lengths.values())) > 1:
        found = ", ".join(f"{name} {count}" for name, count in lengths.items())
        raise ValueError(
            "Outlier scorers need one label in y per row of X (and one "
            f"sample_weight, if given); got lengths {found}."
        )
    labels = np.unique(y_true)
    if not np.isin(labels, [-1, 1]).all():
        raise ValueError(
            "Outlier scorers need y with +1 for inliers and -1 for outliers "
            f"(the labels predict returns), got labels {labels.tolist()}. "
            "Convert 0/1 labels with np.where(y == 1, -1, 1) if 1 marks "
            "the outliers."
        )
    return y_true == -1


def _thresholded_metric(y_true, y_pred, *, metric, sample_weight=None):
    """Precision, recall or F1 of the outlier class; 0 where undefined."""
    actual = _is_outlier(y_true, y_pred, sample_weight)
    flagged = np.asarray(y_pred) == -1
    if sample_weight is None:
        sample_weight = np.ones(actual.shape[0])
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    true_positives = sample_weight[actual & flagged].sum()
    if metric == "precision":
        denominator = sample_weight[flagged].sum()
        numerator = true_positives
    elif metric == "recall":
        denominator = sample_weight[actual].sum()
        numerator = true_positives
    else:
        denominator = sample_weight[actual].sum() + sample_weight[flagged].sum()
        numerator = 2.0 * true_positives
    return float(numerator / denominator) if denominator > 0 else 0.0


def _symmetric_metric(y_true, y_pred, *, metric, sample_weight=None):
    return _SYMMETRIC[metric](
        _is_outlier(y_true, y_pred, sample_weight),
        np.asarray(y_pred) == -1,
        sample_weight=sample_weight,
    )


def _ranking_metric(y_true, y_score, *, metric, sample_weight=None):
    # Higher decision_function / score_samples means more normal: negate it
    # so that the score ranks the outliers (the positive class) first.
    return _RANKING[metric](
        _is_outlier(y_true, y_score, sample_weight),
        -np.asarray(y_score),
        sample_weight=sample_weight,
    )


@validate_params(
    {"metric": [StrOptions(set(OUTLIER_METRICS))]},
    prefer_skip_nested_validation=True,
)
def make_outlier_scorer(metric: str = "f1") -> Callable[..., float]:
    """Make a scorer for outlier detectors, with the outliers as the positive class.

    For :class:`~sklearn.model_selection.GridSearchCV`,
    :func:`~sklearn.model_selection.cross_validate` and friends, on labelled
    data where ``y`` is +1 for inliers and -1 for outliers (the labels that
    ``predict`` returns). Any scikit-learn outlier detector can be scored.

    - 'f1', 'precision', 'recall': of the outlier class, from ``predict``
      (0 where undefined, e.g. when nothing is flagged). They change with
      the threshold, so they are the ones to search it with.
    - 'balanced_accuracy', 'matthews_corrcoef': symmetric in the two
      classes, from ``predict``; they also change with the threshold.
    - 'roc_auc', 'average_precision': from ``-decision_function`` (or
      ``-score_samples``), so that the outliers rank first. They do not
      depend on the threshold: every ``n_sigma`` scores the same. Use them
      to compare detectors or mixtures, not thresholds.

    scikit-learn's own ``"f1"`` scorer would count the inliers (+1) as the
    positive class, and its ``"average_precision"`` scorer ignores
    ``pos_label`` for outlier detectors; these scorers do not.

    Parameters
    ----------
    metric : {'f1', 'precision', 'recall', 'balanced_accuracy', \
'matthews_corrcoef', 'roc_auc', 'average_precision'}, default='f1'
        The metric.

    Returns
    -------
    scorer : callable
        A scorer ``scorer(estimator, X, y)`` (made with
        :func:`~sklearn.metrics.make_scorer`); greater is better. It raises a
        ValueError if ``y`` holds labels other than +1 and -1.

    See Also
    --------
    NSigmaOutlierDetector : Its Notes explain how to search its threshold.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture
    >>> from sklearn.model_selection import GridSearchCV, StratifiedKFold
    >>> from sklearn_nsigma import NSigmaOutlierDetector, make_outlier_scorer
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(0, 1, (190, 2)), rng.uniform(-8, 8, (10, 2))])
    >>> y = np.r_[np.ones(190), -np.ones(10)]
    >>> search = GridSearchCV(
    ...     NSigmaOutlierDetector(GaussianMixture(random_state=0), calibration="none"),
    ...     {"n_sigma": [2.0, 3.0, 4.0]},
    ...     scoring=make_outlier_scorer("f1"),
    ...     cv=StratifiedKFold(5, shuffle=True, random_state=0),
    ... ).fit(X, y)
    >>> search.best_params_
    {'n_sigma': 3.0}
    >>> round(make_outlier_scorer("roc_auc")(search.best_estimator_, X, y), 2)
    0.98
    """
    if metric in _THRESHOLDED:
        return make_scorer(_thresholded_metric, metric=metric)
    if metric in _SYMMETRIC:
        return make_scorer(_symmetric_metric, metric=metric)
    return make_scorer(
        _ranking_metric,
        response_method=("decision_function", "score_samples"),
        metric=metric,
    )
