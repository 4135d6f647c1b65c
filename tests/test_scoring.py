"""Behaviour of make_outlier_scorer."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.ensemble import IsolationForest
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import LocalOutlierFactor

from sklearn_nsigma import NSigmaOutlierDetector, make_outlier_scorer


class FixedDetector(OutlierMixin, BaseEstimator):
    """An 'outlier detector' that returns given decisions for rows 0..n-1."""

    def __init__(self, decision=None):
        self.decision = decision

    def fit(self, X, y=None):
        self.offset_ = 0.0
        return self

    def decision_function(self, X):
        return np.asarray(self.decision)[np.asarray(X, dtype=int).ravel()]

    def predict(self, X):
        return np.where(self.decision_function(X) >= 0, 1, -1)


# decision >= 0 means inlier; y_true -1 means outlier.
DECISION = np.array([2.0, 1.0, -0.5, 0.5, -2.0, -1.0, 3.0, -0.1])
Y_TRUE = np.array([1, 1, 1, -1, -1, -1, 1, 1])
X_ROWS = np.arange(len(DECISION)).reshape(-1, 1)


@pytest.mark.parametrize(
    "metric, expected",
    [
        # Predicted outliers: rows 2, 4, 5, 7; true outliers: rows 3, 4, 5.
        ("precision", 2 / 4),
        ("recall", 2 / 3),
        ("f1", 2 * (0.5 * 2 / 3) / (0.5 + 2 / 3)),
    ],
)
def test_thresholded_scores_count_outliers_as_positive(metric, expected):
    """Check precision, recall and F1 of the outlier class by hand."""
    scorer = make_outlier_scorer(metric)
    detector = FixedDetector(DECISION).fit(X_ROWS)
    assert scorer(detector, X_ROWS, Y_TRUE) == pytest.approx(expected)


@pytest.mark.parametrize(
    "metric, function",
    [
        ("f1", f1_score),
        ("precision", precision_score),
        ("recall", recall_score),
        ("balanced_accuracy", balanced_accuracy_score),
        ("matthews_corrcoef", matthews_corrcoef),
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_label_scores_match_sklearn_with_pos_label(metric, function, weighted):
    """Check the label metrics against scikit-learn's with pos_label=-1."""
    detector = FixedDetector(DECISION).fit(X_ROWS)
    y_pred = detector.predict(X_ROWS)
    kwargs = {"pos_label": -1} if metric in ("f1", "precision", "recall") else {}
    weights = {}
    if weighted:
        weights["sample_weight"] = np.linspace(0.5, 3.0, len(Y_TRUE))
    expected = function(Y_TRUE, y_pred, **kwargs, **weights)
    score = make_outlier_scorer(metric)(detector, X_ROWS, Y_TRUE, **weights)
    assert score == pytest.approx(expected)


@pytest.mark.parametrize(
    "metric, function",
    [("roc_auc", roc_auc_score), ("average_precision", average_precision_score)],
)
def test_ranking_scores_rank_outliers_first(metric, function):
    """Check that ranking metrics use -decision_function for the outliers."""
    detector = FixedDetector(DECISION).fit(X_ROWS)
    expected = function(Y_TRUE == -1, -DECISION)
    assert make_outlier_scorer(metric)(detector, X_ROWS, Y_TRUE) == pytest.approx(
        expected
    )


def test_average_precision_differs_from_the_inlier_view():
    """Check that average precision is computed for outliers, not inliers."""
    detector = FixedDetector(DECISION).fit(X_ROWS)
    ours = make_outlier_scorer("average_precision")(detector, X_ROWS, Y_TRUE)
    inlier_view = average_precision_score(Y_TRUE == 1, DECISION)
    assert ours != pytest.approx(inlier_view)


def test_perfect_ranking():
    """Check the scores of a detector that separates the classes exactly."""
    decision = np.array([1.0, 2.0, -1.0, -2.0])
    y = np.array([1, 1, -1, -1])
    X = np.arange(4).reshape(-1, 1)
    detector = FixedDetector(decision).fit(X)
    for metric in ("f1", "roc_auc", "average_precision", "matthews_corrcoef"):
        assert make_outlier_scorer(metric)(detector, X, y) == pytest.approx(1.0)


def test_nothing_flagged_scores_zero():
    """Check that F1 and precision are 0, not an error, when nothing is flagged."""
    detector = FixedDetector(np.ones(len(Y_TRUE))).fit(X_ROWS)
    assert make_outlier_scorer("f1")(detector, X_ROWS, Y_TRUE) == 0.0
    assert make_outlier_scorer("precision")(detector, X_ROWS, Y_TRUE) == 0.0


@pytest.mark.parametrize("metric", ["f1", "roc_auc"])
def test_zero_one_labels_are_rejected(metric):
    """Check that 0/1 labels raise a clear error."""
    detector = FixedDetector(DECISION).fit(X_ROWS)
    with pytest.raises(ValueError, match=r"\+1 for inliers and -1 for outliers"):
        make_outlier_scorer(metric)(detector, X_ROWS, (Y_TRUE == -1).astype(int))


def test_unknown_metric():
    """Check that an unknown metric name is rejected, naming the parameter."""
    with pytest.raises(ValueError, match="'metric' parameter"):
        make_outlier_scorer("accuracy")


def test_scorers_work_with_other_detectors():
    """Check the scorers on scikit-learn's detectors and ours."""
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(size=(200, 2)), rng.uniform(-8, 8, (20, 2))])
    y = np.r_[np.ones(200, dtype=int), -np.ones(20, dtype=int)]
    detectors = [
        NSigmaOutlierDetector(GaussianMixture(random_state=0)),
        IsolationForest(random_state=0),
        LocalOutlierFactor(novelty=True),
    ]
    for detector in detectors:
        detector.fit(X)
        assert make_outlier_scorer("roc_auc")(detector, X, y) > 0.9
        assert 0.0 < make_outlier_scorer("f1")(detector, X, y) <= 1.0


def test_ranking_scores_do_not_depend_on_n_sigma():
    """Check that ROC AUC is the same for every n_sigma while F1 changes."""
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(size=(200, 2)), rng.uniform(-8, 8, (20, 2))])
    y = np.r_[np.ones(200, dtype=int), -np.ones(20, dtype=int)]
    auc, f1 = [], []
    for n_sigma in [1.0, 2.0, 3.0]:
        detector = NSigmaOutlierDetector(
            GaussianMixture(random_state=0), n_sigma=n_sigma
        ).fit(X)
        auc.append(make_outlier_scorer("roc_auc")(detector, X, y))
        f1.append(make_outlier_scorer("f1")(detector, X, y))
    assert auc[0] == auc[1] == auc[2]
    assert len(set(f1)) == 3
