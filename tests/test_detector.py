"""Behaviour of NSigmaOutlierDetector."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import chi2
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nsigma import (
    NSigmaBayesianGaussianMixture,
    NSigmaGaussianMixture,
    NSigmaOutlierDetector,
    coverage_to_sigma,
    ellipsoid_params,
    make_outlier_scorer,
    sigma_to_coverage,
)

COVARIANCE_TYPE = ["full", "tied", "diag", "spherical"]


def _clusters(seed=0, n_per_cluster=100, n_features=2):
    """Three well separated anisotropic Gaussian clusters."""
    rng = np.random.RandomState(seed)
    centers = 12.0 * np.eye(3, n_features)
    scales = np.linspace(0.5, 1.5, n_features)
    return np.concatenate(
        [
            center + scales * rng.normal(size=(n_per_cluster, n_features))
            for center in centers
        ]
    )


def _labelled(seed=0, n_outliers=30):
    """Clusters plus uniform noise, with y = +1 (inlier) / -1 (outlier)."""
    rng = np.random.RandomState(seed)
    X_in = _clusters(seed)
    X_out = rng.uniform(-10, 25, size=(n_outliers, 2))
    X = np.concatenate([X_in, X_out])
    y = np.r_[np.ones(len(X_in), dtype=int), -np.ones(n_outliers, dtype=int)]
    return X, y


def _gmm(covariance_type="full", n_components=3):
    return GaussianMixture(
        n_components=n_components, covariance_type=covariance_type, random_state=0
    )


class CountingMixture(GaussianMixture):
    """A GaussianMixture that counts the calls to fit (class-wide)."""

    n_fits = 0

    def fit(self, X, y=None):
        type(self).n_fits += 1
        return super().fit(X, y)


class CovarianceOnlyMixture(BaseEstimator):
    """A mixture that exposes covariances_ but not precisions_cholesky_."""

    def __init__(self, n_components=3, covariance_type="full"):
        self.n_components = n_components
        self.covariance_type = covariance_type

    def fit(self, X, y=None):
        gmm = _gmm(self.covariance_type, self.n_components).fit(X)
        self.means_ = gmm.means_
        self.covariances_ = gmm.covariances_
        self.weights_ = gmm.weights_
        return self


class FixedMixture(BaseEstimator):
    """A 'mixture' with given parameters, ignoring the data."""

    def __init__(self, means=None, covariances=None, covariance_type="full"):
        self.means = means
        self.covariances = covariances
        self.covariance_type = covariance_type

    def fit(self, X, y=None):
        self.means_ = np.asarray(self.means)
        self.covariances_ = np.asarray(self.covariances)
        return self


# -- the threshold ------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
@pytest.mark.parametrize("n_sigma", [1.0, 2.5])
def test_decision_function_is_zero_on_the_ellipsoid_axes(covariance_type, n_sigma):
    """Check that decision_function is 0 at the ends of every n-sigma semi-axis."""
    X = _clusters()
    detector = NSigmaOutlierDetector(
        _gmm(covariance_type), n_sigma=n_sigma, calibration="none"
    ).fit(X)
    gmm = detector.estimator_
    params = ellipsoid_params(gmm.means_, gmm.covariances_, covariance_type)
    points = params.axis_points(n_sigma).reshape(-1, X.shape[1])
    assert_allclose(detector.decision_function(points), 0.0, atol=1e-9)
    assert_array_equal(detector.predict(params.centers), 1)
    # Just outside the ellipsoid along an axis: an outlier.
    outside = params.axis_points(n_sigma * 1.01).reshape(-1, X.shape[1])
    assert_array_equal(detector.predict(outside), -1)


def test_scores_read_in_sigmas():
    """Check score_samples, offset_ and decision_function against transform."""
    X = _clusters()
    detector = NSigmaOutlierDetector(_gmm(), n_sigma=2.0, calibration="none").fit(X)
    distances = detector.transform(X)
    assert_allclose(detector.score_samples(X), -distances.min(axis=1))
    assert detector.offset_ == -2.0
    assert detector.threshold_ == 2.0
    assert_allclose(detector.decision_function(X), 2.0 - distances.min(axis=1))
    # The scores do not depend on the threshold.
    other = NSigmaOutlierDetector(_gmm(), n_sigma=5.0, calibration="none").fit(X)
    assert_allclose(other.score_samples(X), detector.score_samples(X))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_agrees_with_predict_within(covariance_type, dtype):
    """Check that predict matches NSigmaGaussianMixture.predict_within."""
    X = _clusters().astype(dtype)
    rng = np.random.RandomState(1)
    X_test = rng.uniform(-5, 17, size=(2000, 2)).astype(dtype)
    gmm = NSigmaGaussianMixture(
        n_components=3, covariance_type=covariance_type, random_state=0
    ).fit(X)
    for n_sigma in [1.0, 2.0, 3.0]:
        detector = NSigmaOutlierDetector(
            FrozenEstimator(gmm), n_sigma=n_sigma, min_weight=0, calibration="none"
        ).fit(X)
        expected = np.where(gmm.predict_within(X_test, n_sigma=n_sigma), 1, -1)
        predicted = detector.predict(X_test)
        assert 0 < (predicted == -1).sum() < len(X_test)
        assert_array_equal(predicted, expected)


def test_fit_predict_equals_fit_then_predict():
    """Check that fit_predict gives the labels of fit followed by predict."""
    X, _ = _labelled()
    detector = NSigmaOutlierDetector(_gmm())
    assert_array_equal(detector.fit_predict(X), detector.fit(X).predict(X))


@pytest.mark.parametrize("n_features", [1, 2, 10])
def test_coverage_sets_the_chi_square_radius(n_features):
    """Check that coverage is converted with the chi-square distribution."""
    X = np.random.RandomState(0).normal(size=(50, n_features))
    coverage = sigma_to_coverage(3, 1)  # the 1-D 3-sigma mass, 99.73 %
    detector = NSigmaOutlierDetector(
        GaussianMixture(), coverage=coverage, calibration="none"
    ).fit(X)
    expected = np.sqrt(chi2.ppf(coverage, n_features))
    assert detector.threshold_ == pytest.approx(expected, rel=1e-12)
    assert detector.offset_ == -detector.threshold_
    if n_features == 1:
        assert detector.threshold_ == pytest.approx(3.0, rel=1e-4)
    if n_features == 10:
        assert detector.threshold_ == pytest.approx(5.19, abs=0.01)


def test_coverage_holds_that_fraction_of_a_gaussian():
    """Check that the inlier fraction of a Gaussian sample is the coverage."""
    n_samples, n_features, coverage = 20_000, 5, 0.9
    X = np.random.RandomState(0).normal(size=(n_samples, n_features))
    detector = NSigmaOutlierDetector(
        GaussianMixture(), coverage=coverage, calibration="none"
    ).fit(X)
    inside = (detector.predict(X) == 1).mean()
    tolerance = 4 * np.sqrt(coverage * (1 - coverage) / n_samples)
    assert abs(inside - coverage) < tolerance
    # With n_sigma = 3 in 5-D, the inside mass is chi2.cdf(9, 5), not 99.7 %.
    detector.set_params(coverage=None, n_sigma=3.0).fit(X)
    inside = (detector.predict(X) == 1).mean()
    assert abs(inside - chi2.cdf(9, n_features)) < 0.01


@pytest.mark.parametrize("contamination", [0.05, 0.1, 0.25, 0.5])
def test_contamination_flags_that_fraction_of_the_training_set(contamination):
    """Check that contamination flags that fraction of the training samples."""
    X, _ = _labelled()
    X = X[np.random.RandomState(0).permutation(len(X))[:300]]
    detector = NSigmaOutlierDetector(_gmm(), contamination=contamination).fit(X)
    n_flagged = (detector.predict(X) == -1).sum()
    assert n_flagged == int(contamination * len(X))
    scores = detector.score_samples(X)
    assert detector.offset_ == pytest.approx(np.percentile(scores, 100 * contamination))
    assert detector.threshold_ == -detector.offset_


def test_threshold_precedence():
    """Check that a threshold overriding another is an error, never inert."""
    X, _ = _labelled()
    only_contamination = NSigmaOutlierDetector(_gmm(), contamination=0.1)
    assert only_contamination.fit(X).threshold_ > 0
    coverage = NSigmaOutlierDetector(_gmm(), coverage=0.5, calibration="none").fit(X)
    assert coverage.threshold_ == pytest.approx(coverage_to_sigma(0.5, 2))
    assert NSigmaOutlierDetector(_gmm(), n_sigma=1.5).fit(X).threshold_ == 1.5
    for params in [
        {"n_sigma": 1.0, "coverage": 0.5},
        {"n_sigma": 4.0, "contamination": 0.1},
        {"coverage": 0.5, "contamination": 0.1},
    ]:
        detector = NSigmaOutlierDetector(_gmm(), **params)
        with pytest.raises(ValueError, match="takes one threshold"):
            detector.fit(X)
        assert not hasattr(detector, "threshold_")


def test_search_over_n_sigma_with_coverage_fails_loudly():
    """Check that a search over n_sigma with coverage set cannot pass silently."""
    X, y = _labelled()
    search = GridSearchCV(
        NSigmaOutlierDetector(_gmm(), coverage=0.9),
        {"n_sigma": [2.0, 4.0]},
        scoring=make_outlier_scorer("f1"),
        error_score="raise",
    )
    with pytest.raises(ValueError, match="n_sigma must stay at its default"):
        search.fit(X, y)


def test_larger_n_sigma_flags_fewer_samples():
    """Check that the number of outliers decreases as n_sigma grows."""
    X, _ = _labelled()
    counts = [
        (NSigmaOutlierDetector(_gmm(), n_sigma=n).fit(X).predict(X) == -1).sum()
        for n in [1.0, 2.0, 3.0, 4.0]
    ]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > counts[-1]


# -- the minimum-weight rule ------------------------------------------------
def test_min_weight_ignores_empty_bayesian_components():
    """Check that near-empty BayesianGaussianMixture components make no inliers."""
    X = _clusters()
    bgmm = BayesianGaussianMixture(n_components=10, random_state=0)
    detector = NSigmaOutlierDetector(bgmm).fit(X)
    weights = detector.estimator_.weights_
    assert detector.min_weight_ == 0.05
    assert_array_equal(detector.eligible_components_, weights >= 0.05)
    assert detector.eligible_components_.sum() == 3
    # The unused components sit between the clusters, with the prior's
    # broad covariance: their centres are outliers only thanks to the rule.
    empty_means = detector.estimator_.means_[~detector.eligible_components_]
    assert_array_equal(detector.predict(empty_means), -1)
    detector.set_params(min_weight=0).fit(X)
    assert detector.eligible_components_.all()
    assert_array_equal(detector.predict(empty_means), 1)


def test_min_weight_auto_ignores_components_fitted_to_noise():
    """Check that 'auto' leaves out broad low-weight components fitted to noise."""
    X, _ = _labelled(seed=2)
    X_test, y_test = _labelled(seed=12)
    recall = {}
    for min_weight in ["auto", 0.01, 0.0]:
        detector = NSigmaOutlierDetector(
            random_state=0, min_weight=min_weight, calibration="none"
        )
        flagged = detector.fit(X).predict(X_test) == -1
        recall[min_weight] = flagged[y_test == -1].mean()
        assert flagged[y_test == 1].mean() < 0.01
    # With every component, the broad ones cover the noise: nothing flagged;
    # the more of them are left out, the more of the noise is found.
    assert recall[0.0] == 0.0
    assert recall["auto"] > 0.5
    assert recall["auto"] >= recall[0.01] >= recall[0.0]


def test_default_estimator_finds_the_clusters():
    """Check that the default mixture keeps one component per cluster."""
    X = _clusters()
    detector = NSigmaOutlierDetector(random_state=0).fit(X)
    assert isinstance(detector.estimator_, BayesianGaussianMixture)
    assert detector.estimator_.n_components == 10
    assert detector.eligible_components_.sum() == 3
    assert detector.transform(X).shape == (len(X), 10)


@pytest.mark.parametrize("n_samples, expected", [(20, 0.2), (200, 0.05), (5000, 0.05)])
def test_min_weight_auto(n_samples, expected):
    """Check that min_weight='auto' is max(0.05, (n_features + 2) / n_samples)."""
    X = np.random.RandomState(0).normal(size=(n_samples, 2))
    detector = NSigmaOutlierDetector(GaussianMixture()).fit(X)
    assert detector.min_weight_ == pytest.approx(expected)


def test_min_weight_keeps_the_heaviest_component():
    """Check that the heaviest component is used whatever min_weight is."""
    X = _clusters()[:250]  # cluster sizes 100, 100, 50
    detector = NSigmaOutlierDetector(_gmm(), min_weight=1.0).fit(X)
    weights = detector.estimator_.weights_
    assert_array_equal(detector.eligible_components_, weights == weights.max())
    detector.set_params(min_weight=0.3).fit(X)
    assert_array_equal(detector.eligible_components_, weights > 0.3)
    assert detector.eligible_components_.sum() == 2


def test_mixture_without_weights_uses_every_component():
    """Check that a mixture with no weights_ weighs its components equally."""
    means = np.array([[0.0, 0.0], [10.0, 0.0]])
    mixture = FixedMixture(means, np.array([1.0, 1.0]), "spherical")
    detector = NSigmaOutlierDetector(mixture, min_weight=0.5).fit(means)
    assert detector.eligible_components_.all()
    assert_array_equal(detector.predict(means), 1)


# -- the estimator parameter ------------------------------------------------
@pytest.mark.parametrize(
    "estimator",
    [
        GaussianMixture(n_components=3, random_state=0),
        BayesianGaussianMixture(n_components=3, random_state=0),
        NSigmaGaussianMixture(n_components=3, random_state=0),
    ],
    ids=["GaussianMixture", "BayesianGaussianMixture", "NSigmaGaussianMixture"],
)
def test_supported_mixtures(estimator):
    """Check that every supported mixture type gives distances in sigmas."""
    X, _ = _labelled()
    detector = NSigmaOutlierDetector(estimator, robust=None).fit(X)
    assert type(detector.estimator_) is type(estimator)
    assert detector.estimator_ is not estimator
    assert not hasattr(estimator, "means_")  # the user's object is unfitted
    gmm = NSigmaGaussianMixture(n_components=3, random_state=0)
    for name in ("means_", "covariances_", "precisions_cholesky_"):
        setattr(gmm, name, getattr(detector.estimator_, name))
    gmm.n_features_in_ = 2
    assert_allclose(detector.transform(X), gmm.mahalanobis(X), rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
def test_mixture_with_covariances_only(covariance_type):
    """Check that a mixture exposing only covariances_ gives the same scores."""
    X, _ = _labelled()
    reference = NSigmaOutlierDetector(_gmm(covariance_type)).fit(X)
    detector = NSigmaOutlierDetector(CovarianceOnlyMixture(3, covariance_type)).fit(X)
    assert_allclose(detector.score_samples(X), reference.score_samples(X), rtol=1e-8)
    assert_array_equal(detector.predict(X), reference.predict(X))


@pytest.mark.parametrize(
    "covariance_type, covariances, message",
    [
        ("full", [np.eye(2), [[1.0, 1.0], [1.0, 1.0]]], r"Component\(s\) \[1\]"),
        ("diag", [[1.0, 1.0], [0.0, 1.0]], r"Component\(s\) \[1\]"),
        ("spherical", [-1.0, 1.0], r"Component\(s\) \[0\]"),
        ("tied", [[1.0, 2.0], [2.0, 1.0]], "The tied covariance"),
    ],
)
def test_singular_covariance_is_named(covariance_type, covariances, message):
    """Check that a singular covariance raises an error naming the component."""
    means = np.array([[0.0, 0.0], [5.0, 5.0]])
    mixture = FixedMixture(means, np.array(covariances), covariance_type)
    with pytest.raises(ValueError, match=message):
        NSigmaOutlierDetector(mixture).fit(means)


def test_frozen_estimator_is_used_as_is():
    """Check that a FrozenEstimator is not refitted and the mixture unchanged."""
    X, _ = _labelled()
    gmm = _gmm().fit(X)
    means, n_iter = gmm.means_.copy(), gmm.n_iter_
    frozen = FrozenEstimator(gmm)
    X_other = np.random.RandomState(1).normal(size=(80, 2))
    detector = NSigmaOutlierDetector(frozen, calibration="chi2", robust=None)
    detector.fit(X_other)
    assert detector.estimator_ is frozen
    assert_array_equal(gmm.means_, means)
    assert gmm.n_iter_ == n_iter
    # The distances are those of the frozen mixture, not of a refit on X_other.
    reference = NSigmaOutlierDetector(_gmm(), calibration="chi2", robust=None)
    assert_allclose(detector.score_samples(X), reference.fit(X).score_samples(X))


def test_fitted_estimator_is_cloned_not_modified():
    """Check that a fitted, unfrozen mixture is cloned and refitted on the data."""
    X, _ = _labelled()
    gmm = _gmm().fit(X)
    means = gmm.means_
    X_other = X + 100.0
    detector = NSigmaOutlierDetector(gmm).fit(X_other)
    assert gmm.means_ is means
    assert detector.estimator_ is not gmm
    assert_allclose(detector.estimator_.means_.mean(), means.mean() + 100.0)


def test_frozen_estimator_with_other_n_features():
    """Check the error when X has another number of features than the mixture."""
    gmm = _gmm().fit(_clusters())
    with pytest.raises(ValueError, match=r"means_ of shape \(3, 2\), but X has 3"):
        NSigmaOutlierDetector(FrozenEstimator(gmm)).fit(np.zeros((10, 3)))


@pytest.mark.parametrize(
    "estimator, error, message",
    [
        (KMeans(n_clusters=2, n_init=1), TypeError, "has no means_"),
        (StandardScaler(), TypeError, "has no means_, covariance_type"),
        (FrozenEstimator(GaussianMixture()), NotFittedError, "not fitted"),
        ("gmm", TypeError, "'estimator' parameter"),
    ],
    ids=["KMeans", "StandardScaler", "unfitted FrozenEstimator", "string"],
)
def test_unsupported_estimator(estimator, error, message):
    """Check that an estimator that is not a mixture raises a clear TypeError."""
    with pytest.raises(error, match=message):
        NSigmaOutlierDetector(estimator).fit(_clusters())


# -- parameter and input errors ---------------------------------------------
@pytest.mark.parametrize(
    "params, error, message",
    [
        ({"n_sigma": 0}, ValueError, "'n_sigma' parameter"),
        ({"n_sigma": -1.0}, ValueError, "'n_sigma' parameter"),
        ({"n_sigma": np.inf}, ValueError, "'n_sigma' parameter"),
        ({"n_sigma": None}, TypeError, "'n_sigma' parameter"),
        ({"n_sigma": "3"}, TypeError, "'n_sigma' parameter"),
        ({"n_sigma": True}, TypeError, "'n_sigma' parameter .* Got True"),
        ({"n_sigma": np.nan}, ValueError, "'n_sigma' parameter"),
        ({"n_sigma": np.inf}, ValueError, "'n_sigma' parameter"),
        ({"robust": True}, TypeError, "'robust' parameter"),
        ({"coverage": 0.0}, ValueError, "'coverage' parameter"),
        ({"coverage": 1.0}, ValueError, "'coverage' parameter"),
        ({"coverage": "high"}, TypeError, "'coverage' parameter"),
        ({"coverage": False}, TypeError, "'coverage' parameter .* Got False"),
        ({"contamination": 0.0}, ValueError, "'contamination' parameter"),
        ({"contamination": 0.6}, ValueError, "'contamination' parameter"),
        ({"contamination": "auto"}, TypeError, "'contamination' parameter"),
        ({"min_weight": -0.1}, ValueError, "'min_weight' parameter"),
        ({"min_weight": 1.5}, ValueError, "'min_weight' parameter"),
        ({"min_weight": "none"}, ValueError, "'min_weight' parameter"),
        ({"min_weight": True}, TypeError, "'min_weight' parameter"),
        ({"memory": 3}, TypeError, "'memory' parameter"),
    ],
)
def test_invalid_parameters_raise_before_fitting(params, error, message):
    """Check that bad parameters raise an error naming them, before any fit."""
    CountingMixture.n_fits = 0
    detector = NSigmaOutlierDetector(CountingMixture(), **params)
    with pytest.raises(error, match=message):
        detector.fit(_clusters())
    assert CountingMixture.n_fits == 0
    assert not hasattr(detector, "estimator_")


def _bad_inputs():
    X = _clusters()
    nan = X.copy()
    nan[3, 1] = np.nan
    inf = X.copy()
    inf[5, 0] = np.inf
    return [
        pytest.param(nan, ValueError, "NaN", id="nan"),
        pytest.param(inf, ValueError, "infinity", id="inf"),
        pytest.param(X[:, 0], ValueError, "Expected 2D array", id="1d"),
        pytest.param(sp.csr_matrix(X), TypeError, "Sparse data", id="sparse"),
    ]


@pytest.mark.parametrize("X_bad, error, message", _bad_inputs())
def test_bad_X_at_fit_leaves_the_detector_unchanged(X_bad, error, message):
    """Check that fit with bad X raises and keeps the previous fit."""
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(_clusters(), columns=["a", "b"])
    detector = NSigmaOutlierDetector(_gmm()).fit(X)
    before = dict(vars(detector))
    with pytest.raises(error, match=message):
        detector.fit(X_bad)
    assert vars(detector).keys() == before.keys()
    for name, value in before.items():
        assert vars(detector)[name] is value, name
    assert_array_equal(detector.feature_names_in_, ["a", "b"])


@pytest.mark.parametrize("X_bad, error, message", _bad_inputs())
@pytest.mark.parametrize(
    "method", ["predict", "decision_function", "score_samples", "transform"]
)
def test_bad_X_after_fit(X_bad, error, message, method):
    """Check that every post-fit method rejects bad X with a clear error."""
    detector = NSigmaOutlierDetector(_gmm()).fit(_clusters())
    with pytest.raises(error, match=message):
        getattr(detector, method)(X_bad)


@pytest.mark.parametrize(
    "method", ["predict", "decision_function", "score_samples", "transform"]
)
def test_wrong_n_features(method):
    """Check that X with another number of features is rejected."""
    detector = NSigmaOutlierDetector(_gmm()).fit(_clusters())
    with pytest.raises(ValueError, match="X has 3 features"):
        getattr(detector, method)(np.zeros((4, 3)))


def test_unsupported_estimator_leaves_the_detector_unchanged():
    """Check that a failed fit (after validation) keeps the previous fit."""
    X = _clusters()
    detector = NSigmaOutlierDetector(_gmm()).fit(X)
    offset, estimator = detector.offset_, detector.estimator_
    detector.set_params(estimator=KMeans(n_clusters=2, n_init=1))
    with pytest.raises(TypeError):
        detector.fit(np.random.RandomState(0).normal(size=(30, 4)))
    assert detector.n_features_in_ == 2
    assert detector.offset_ == offset
    assert detector.estimator_ is estimator


# -- transformer side -------------------------------------------------------
def test_transform_feature_names_and_pandas_output():
    """Check transform's feature names and set_output(transform='pandas')."""
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(_clusters(), columns=["x0", "x1"], index=np.arange(300) + 7)
    detector = NSigmaOutlierDetector(_gmm(), calibration="none").fit(X)
    names = [
        "nsigmaoutlierdetector0",
        "nsigmaoutlierdetector1",
        "nsigmaoutlierdetector2",
    ]
    assert_array_equal(detector.get_feature_names_out(), names)
    distances = detector.set_output(transform="pandas").transform(X)
    assert isinstance(distances, pd.DataFrame)
    assert list(distances.columns) == names
    assert_array_equal(distances.index, X.index)
    assert_allclose(distances.min(axis=1), -detector.score_samples(X))
    # The other methods still return arrays.
    assert isinstance(detector.predict(X), np.ndarray)


def test_transform_feeds_a_downstream_model():
    """Check that the distances work as features in a Pipeline."""
    from sklearn.linear_model import LogisticRegression

    X, y = _labelled()
    pipe = make_pipeline(NSigmaOutlierDetector(_gmm()), LogisticRegression())
    assert pipe.fit(X, y).score(X, y) > 0.95
    assert pipe[-1].coef_.shape == (1, 3)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
def test_float32_stays_float32(covariance_type):
    """Check that float32 input gives float32 distances, scores and decisions."""
    X = _clusters().astype(np.float32)
    detector = NSigmaOutlierDetector(_gmm(covariance_type)).fit(X)
    assert detector.transform(X).dtype == np.float32
    assert detector.score_samples(X).dtype == np.float32
    assert detector.decision_function(X).dtype == np.float32
    reference = NSigmaOutlierDetector(_gmm(covariance_type)).fit(X.astype(np.float64))
    assert_allclose(
        detector.score_samples(X), reference.score_samples(X), rtol=1e-4, atol=1e-4
    )


def test_pickle_round_trip():
    """Check that a pickled detector predicts the same."""
    X, _ = _labelled()
    detector = NSigmaOutlierDetector(_gmm()).fit(X)
    restored = pickle.loads(pickle.dumps(detector))
    assert_array_equal(restored.decision_function(X), detector.decision_function(X))


# -- searching the threshold ------------------------------------------------
def test_grid_search_over_n_sigma():
    """Check GridSearchCV over n_sigma with thresholded and ranking scorers."""
    X, y = _labelled()
    grid = [1.0, 2.0, 3.0, 4.0, 6.0]
    search = GridSearchCV(
        NSigmaOutlierDetector(_gmm(), calibration="none"),
        {"n_sigma": grid},
        scoring={
            "f1": make_outlier_scorer("f1"),
            "roc_auc": make_outlier_scorer("roc_auc"),
        },
        refit="f1",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ).fit(X, y)
    f1 = search.cv_results_["mean_test_f1"]
    auc = search.cv_results_["mean_test_roc_auc"]
    assert search.best_params_["n_sigma"] == grid[np.argmax(f1)]
    assert f1.max() > 0.75
    assert f1[0] < f1.max() - 0.3  # n_sigma = 1 flags many inliers
    assert f1[-1] < f1.max() - 0.3  # n_sigma = 6 misses most outliers
    # The ranking does not depend on the threshold.
    assert_allclose(auc, auc[0])
    assert auc[0] > 0.95
    assert search.best_estimator_.threshold_ == search.best_params_["n_sigma"]


def test_grid_search_over_coverage():
    """Check that coverage can be searched without unsetting n_sigma."""
    X, y = _labelled()
    search = GridSearchCV(
        NSigmaOutlierDetector(_gmm(), calibration="none"),
        {"coverage": [0.5, 0.9, 0.99, 0.999]},
        scoring=make_outlier_scorer("f1"),
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ).fit(X, y)
    f1 = search.cv_results_["mean_test_score"]
    assert np.ptp(f1) > 0.1
    assert search.best_params_["coverage"] == [0.5, 0.9, 0.99, 0.999][np.argmax(f1)]
    assert search.best_estimator_.threshold_ == pytest.approx(
        coverage_to_sigma(search.best_params_["coverage"], 2)
    )


@pytest.mark.parametrize("use_memory, expected_fits", [(False, 31), (True, 4)])
def test_memory_fits_the_mixture_once_per_split(tmp_path, use_memory, expected_fits):
    """Check that with memory a 10-value search fits once per split (+ refit)."""
    X, y = _labelled()
    CountingMixture.n_fits = 0
    detector = NSigmaOutlierDetector(
        CountingMixture(n_components=3, random_state=0),
        memory=str(tmp_path) if use_memory else None,
    )
    search = GridSearchCV(
        detector,
        {"n_sigma": np.linspace(1.0, 5.5, 10).tolist()},
        scoring=make_outlier_scorer("f1"),
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ).fit(X, y)
    assert CountingMixture.n_fits == expected_fits
    # The cache changes nothing in the results.
    reference = NSigmaOutlierDetector(
        _gmm(), n_sigma=search.best_params_["n_sigma"]
    ).fit(X)
    assert_allclose(
        search.best_estimator_.decision_function(X), reference.decision_function(X)
    )


def test_default_mixture_converges_on_large_data():
    """Check the default mixture's per-sample tolerance: no 100 iterations, no warning.

    scikit-learn's Bayesian lower bound is a sum over the samples, so the
    class's own ``tol=1e-3`` made the default fit of 30,000 rows of three
    clusters run 100 iterations and warn that it had not converged.
    """
    rng = np.random.RandomState(0)
    centres = [[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]]
    X = np.concatenate([c + rng.normal(size=(10_000, 2)) for c in centres])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        detector = NSigmaOutlierDetector(random_state=0).fit(X)
    mixture = detector.estimator_
    assert mixture.tol == pytest.approx(1e-3 * len(X))
    assert mixture.converged_ and mixture.n_iter_ < 20
    assert detector.eligible_components_.sum() == 3
    assert (detector.predict(X) == -1).mean() < 0.005


@pytest.mark.parametrize(
    "scale",
    [1e-7, 1e6, [1e-6, 1.0, 1e5]],
    ids=["micro-units", "mega-units", "mixed-units"],
)
def test_default_detector_does_not_depend_on_units(scale):
    """Check the default answers the same in any units of the features.

    Its mixture is fitted on the standardised features and its robust
    re-estimation regularises relative to each feature's variance: with
    scikit-learn's absolute ``reg_covar=1e-6``, data in micro-units (a
    variance of 1e-12) had every covariance swamped by the regularisation
    and nothing was flagged, the uniform noise included.
    """
    X, y = _labelled(seed=3, n_outliers=40)
    X = np.c_[X, np.random.RandomState(3).normal(size=len(X))]
    X_test, y_test = _labelled(seed=13, n_outliers=40)
    X_test = np.c_[X_test, np.random.RandomState(13).normal(size=len(X_test))]
    reference = NSigmaOutlierDetector(random_state=0).fit(X)
    shift = np.array([1e3, -5.0, 42.0]) * scale  # offsets in the same units
    detector = NSigmaOutlierDetector(random_state=0).fit(shift + X * scale)
    scores = detector.decision_function(shift + X_test * scale)
    assert_allclose(scores, reference.decision_function(X_test), atol=1e-6)
    assert_array_equal(detector.eligible_components_, reference.eligible_components_)
    flagged = reference.predict(X_test) == -1
    assert flagged[y_test == -1].mean() > 0.5 and flagged[y_test == 1].mean() < 0.02
    # the mixture is reported in the data's units
    assert_allclose(
        detector.estimator_.means_,
        shift + reference.estimator_.means_ * scale,
        rtol=1e-6,
        atol=1e-6 * np.max(np.abs(scale)),
    )
    assert_allclose(
        detector.estimator_.ellipsoid_params_.centers, detector.estimator_.means_
    )


def test_default_mixture_is_cached_in_the_data_units():
    """Check a cache that hands back the object it stored gets it unchanged.

    The default mixture is mapped back to the data's units inside the
    cached function: a second fit from the cache must not map it again.
    """

    class DictMemory:
        """The joblib.Memory interface, returning the stored object itself."""

        def __init__(self):
            self.store = {}

        def cache(self, func):
            def cached(estimator, X, y):
                key = (repr(estimator), X.tobytes())
                if key not in self.store:
                    self.store[key] = func(estimator, X, y)
                return self.store[key]

            return cached

    X = _clusters() * [1e-3, 1e3] + [5.0, 7.0]
    reference = NSigmaOutlierDetector(random_state=0).fit(X)
    memory = DictMemory()
    first = NSigmaOutlierDetector(random_state=0, memory=memory).fit(X)
    second = NSigmaOutlierDetector(random_state=0, memory=memory).fit(X)
    assert len(memory.store) == 1
    for detector in (first, second):
        assert_allclose(detector.estimator_.means_, reference.estimator_.means_)
        assert_allclose(detector.decision_function(X), reference.decision_function(X))


def test_default_mixture_keeps_float32_parameters_in_float32():
    """Check the mapping back to data units keeps each parameter's dtype."""
    X = (_clusters() * [1e-3, 1e3]).astype(np.float32)
    mixture = NSigmaOutlierDetector(random_state=0).fit(X).estimator_
    unit = X / np.array([1e-3, 1e3], dtype=np.float32)
    expected = NSigmaBayesianGaussianMixture(n_components=10, random_state=0)
    expected.fit(unit)  # fitted directly, with nothing mapped
    for name in ("means_", "covariances_", "precisions_cholesky_", "mean_prior_"):
        assert getattr(mixture, name).dtype == getattr(expected, name).dtype, name


def _ratings(seed, n_samples, n_features=4):
    """Correlated ratings from 1 to 5, as a survey has them."""
    rng = np.random.RandomState(seed)
    Z = rng.normal(size=(n_samples, n_features)) @ (np.eye(n_features) + 0.5)
    return np.clip(np.round(3 + 1.2 * Z / Z.std(axis=0)), 1, 5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_detector_on_ratings_flags_no_level_wholesale(seed):
    """Check discrete features: a rare rating is not flagged as such.

    The mixture gave each rating of a feature its own flat component (zero
    width along it), and the rows of a rare rating (5 % of them) fell in a
    component below min_weight: 11 % of new rows flagged. Components are
    now no narrower than rounding to the feature's quantum (q**2 / 12).
    """
    X = _ratings(seed, 3000)
    detector = NSigmaOutlierDetector(random_state=seed).fit(X[:2000])
    assert (detector.predict(X[2000:]) == -1).mean() < 0.005
    covariances = detector.estimator_.covariances_[detector.eligible_components_]
    variances = np.diagonal(covariances, axis1=1, axis2=2)
    assert variances.min() >= 1 / 12 * (1 - 1e-6)
    assert (detector.predict([[1, 1, 1, 9], [3, 3, 3, 3]]) == [-1, 1]).all()


def test_rounding_floor_in_tiny_units_and_from_all_rows(monkeypatch):
    """Check the rounding floor: finite in tiny units, and taken from all rows.

    A discrete feature in units of 1e-170 made the floor 0 / 0 (both
    squares underflow) and the fit fail on NaN; and a quantum read from the
    first rows only forced the coarse rounding of a first half onto a
    finely measured second half, hiding an outlier 12 sigmas off it.
    """
    from sklearn_nsigma import _fitting

    rng = np.random.RandomState(0)
    X = rng.normal(size=(1000, 2))
    X[:, 1] = np.round(X[:, 1] * 3)
    reference = NSigmaOutlierDetector(robust=None, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        tiny = NSigmaOutlierDetector(robust=None, random_state=0)
        tiny.fit(X * [1.0, 1e-170])
        scores = tiny.decision_function(X * [1.0, 1e-170])
    assert_allclose(scores, reference.decision_function(X), atol=1e-8)
    monkeypatch.setattr(_fitting, "_QUANTUM_ROWS", 1000)
    coarse = np.round(rng.normal(size=20_000) * 3)  # the first half: whole numbers
    fine = rng.normal(size=20_000) * 0.05 + 40.0  # the second: measured finely
    X = np.c_[np.r_[coarse, fine], rng.normal(size=40_000)]
    detector = NSigmaOutlierDetector(random_state=0).fit(X)
    assert detector.predict([[40.6, 0.0]])[0] == -1  # 12 sigmas off the fine cluster


@pytest.mark.parametrize("seed, n_levels, n_features", [(0, 5, 3), (1, 3, 4)])
def test_background_holding_most_of_the_samples_is_the_data(seed, n_levels, n_features):
    """Check uniform data on a grid of values: nothing is left out as noise.

    The background test compares a component's density with the uniform
    one over the data's box; on uniform grids it found two fifths (5 levels
    in 3-D) or half (3 levels in 4-D, once components are no narrower than
    the grid's rounding) of the rows "background", and flagged them.
    Background that would hold most of the samples is now the data.
    """
    rng = np.random.RandomState(seed)
    X = rng.randint(0, n_levels, size=(2000, n_features)).astype(float)
    detector = NSigmaOutlierDetector(random_state=0).fit(X)
    assert (detector.predict(X) == 1).all()
    far = np.full((2, n_features), (n_levels - 1) / 2)
    far[0, 0], far[1, -1] = -4.0 * n_levels, 5.0 * n_levels
    assert (detector.predict(far) == -1).all()


@pytest.mark.parametrize("unit", [1e-6, 1.0, 1e6])
def test_default_detector_on_a_constant_feature_in_any_units(unit):
    """Check a 1 % change of a feature constant in training is flagged, in any units.

    A constant feature's scale is its own magnitude: with the absolute
    ``reg_covar``, a constant 1e-6 could change to 2e-6 unnoticed.
    """
    rng = np.random.RandomState(0)
    X = np.c_[rng.normal(size=(1000, 2)), np.ones(1000)] * [1.0, 1.0, unit]
    detector = NSigmaOutlierDetector(random_state=0).fit(X)
    new = np.array([[0, 0, 1.0], [0, 0, 1.0001], [0, 0, 1.01], [0, 0, 2.0]])
    assert_array_equal(detector.predict(new * [1, 1, unit]), [1, 1, -1, -1])
    assert (detector.predict(X) == 1).all()


@pytest.mark.parametrize("mixture_class", [GaussianMixture, BayesianGaussianMixture])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag"])
def test_unstandardize_mixture_is_the_change_of_variables(
    mixture_class, covariance_type
):
    """Check a mixture fitted on standardised features, mapped back to X's units.

    Its densities are the fitted ones divided by the scales' product, its
    posterior probabilities and Mahalanobis distances unchanged; features
    of very different scales and offsets.
    """
    from sklearn_nsigma._fitted import FittedMixture
    from sklearn_nsigma._fitting import feature_standardization, unstandardize_mixture

    X = _clusters(n_features=3) * [1e-4, 1.0, 1e4] + [5.0, 0.0, -1e6]
    shift, scale = feature_standardization(X)
    Z = (X - shift) / scale
    mixture = mixture_class(
        n_components=3, covariance_type=covariance_type, random_state=0
    ).fit(Z)
    density_z, proba_z = mixture.score_samples(Z), mixture.predict_proba(Z)
    distances_z = FittedMixture.from_estimator(mixture).kernel(np.float64).distances(Z)
    unstandardize_mixture(mixture, shift, scale)
    # scikit-learn expands the 'diag' quadratic form, which loses digits on
    # uncentred data: 1e-5 is its rounding here, not the mapping's
    assert_allclose(
        mixture.score_samples(X), density_z - np.log(scale).sum(), atol=1e-5
    )
    assert_allclose(mixture.predict_proba(X), proba_z, atol=1e-6)
    distances_x = FittedMixture.from_estimator(mixture).kernel(np.float64).distances(X)
    assert_allclose(distances_x, distances_z, rtol=1e-8)
