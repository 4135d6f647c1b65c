"""Behaviour of NSigmaOutlierFilter, alone and in imbalanced-learn's Pipeline."""

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.linear_model import LinearRegression
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KNeighborsRegressor

from sklearn_nsigma import NSigmaOutlierDetector, NSigmaOutlierFilter


def _gmm(n_components=1):
    return GaussianMixture(n_components=n_components, random_state=0)


def _detector(n_components=1, **params):
    return NSigmaOutlierDetector(_gmm(n_components), **params)


def _regression(seed=0, n_samples=300, n_outliers=30):
    """y = X @ w + noise, plus far-away rows whose y is corrupted."""
    rng = np.random.RandomState(seed)
    w = np.array([2.0, -1.0])
    X_in = rng.normal(size=(n_samples, 2))
    y_in = X_in @ w + 0.1 * rng.normal(size=n_samples)
    directions = rng.normal(size=(n_outliers, 2))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    X_out = rng.uniform(6, 9, size=(n_outliers, 1)) * directions
    y_out = rng.uniform(-60, 60, size=n_outliers)
    order = rng.permutation(n_samples + n_outliers)
    X = np.concatenate([X_in, X_out])[order]
    y = np.concatenate([y_in, y_out])[order]
    is_outlier = np.r_[np.zeros(n_samples, bool), np.ones(n_outliers, bool)][order]
    return X, y, is_outlier


def test_fit_resample_drops_the_outlier_rows():
    """Check that fit_resample keeps exactly the rows the detector calls inliers."""
    X, y, is_outlier = _regression()
    X_res, y_res = NSigmaOutlierFilter(_detector(robust=0.975)).fit_resample(X, y)
    detector = NSigmaOutlierDetector(_gmm(), robust=0.975).fit(X)
    kept = detector.predict(X) == 1
    assert_array_equal(X_res, X[kept])
    assert_array_equal(y_res, y[kept])
    # Every planted outlier (6 to 9 sigma away) is dropped.
    assert not (kept & is_outlier).any()
    assert kept.sum() > 0.95 * (~is_outlier).sum()


def test_fit_resample_passes_the_threshold_on():
    """Check that n_sigma, coverage and contamination reach the detector."""
    X, y, _ = _regression()
    n_kept = []
    for params in [
        {"n_sigma": 0.5},
        {"n_sigma": 1.0},
        {"coverage": 0.99},
        {"contamination": 0.2},
    ]:
        sampler = NSigmaOutlierFilter(_detector(**params))
        X_res, _ = sampler.fit_resample(X, y)
        assert sampler.detector_.get_params()["n_sigma"] == params.get("n_sigma", 3.0)
        n_kept.append(len(X_res))
    assert n_kept[0] < n_kept[1] <= n_kept[2]
    assert n_kept[3] == len(X) - int(0.2 * len(X))


def test_fit_resample_keeps_pandas_types_and_index():
    """Check that a DataFrame and a Series come back with their index."""
    pd = pytest.importorskip("pandas")
    X, y, _ = _regression()
    index = np.arange(len(X)) * 10
    X_df = pd.DataFrame(X, columns=["a", "b"], index=index)
    y_series = pd.Series(y, index=index, name="target")
    sampler = NSigmaOutlierFilter(_detector())
    X_res, y_res = sampler.fit_resample(X_df, y_series)
    assert isinstance(X_res, pd.DataFrame) and isinstance(y_res, pd.Series)
    assert_array_equal(X_res.index, index[sampler.sample_indices_])
    assert_array_equal(y_res.index, X_res.index)
    assert_array_equal(sampler.feature_names_in_, ["a", "b"])


def test_fit_resample_without_y():
    """Check that y=None gives the kept rows of X and None."""
    X, _, _ = _regression()
    X_res, y_res = NSigmaOutlierFilter(_detector()).fit_resample(X, None)
    assert y_res is None
    assert 0 < len(X_res) < len(X)


class RecordingMixture(GaussianMixture):
    """A GaussianMixture that remembers the y it was fitted with."""

    def fit(self, X, y=None):
        self.y_seen_ = y
        return super().fit(X, y)


def test_y_is_not_given_to_the_mixture():
    """Check that the mixture is fitted on X alone."""
    X, y, _ = _regression()
    sampler = NSigmaOutlierFilter(
        NSigmaOutlierDetector(RecordingMixture(random_state=0))
    )
    sampler.fit_resample(X, y)
    assert sampler.detector_.estimator_.y_seen_ is None


def test_filter_errors():
    """Check errors on bad parameters, inconsistent lengths and bad X."""
    X, y, _ = _regression()
    with pytest.raises(ValueError, match="'n_sigma' parameter"):
        NSigmaOutlierFilter(NSigmaOutlierDetector(n_sigma=-1.0)).fit_resample(X, y)
    with pytest.raises(TypeError, match="'min_weight' parameter"):
        NSigmaOutlierFilter(NSigmaOutlierDetector(min_weight=True)).fit(X)
    with pytest.raises(TypeError, match="'detector' parameter"):
        NSigmaOutlierFilter("detector").fit(X)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        NSigmaOutlierFilter(_detector()).fit_resample(X, y[:-1])
    sampler = NSigmaOutlierFilter(_detector()).fit(X)
    before = dict(vars(sampler))
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sampler.fit_resample(X_nan, y)
    assert all(vars(sampler)[name] is value for name, value in before.items())


def test_filter_is_a_sampler_not_a_transformer():
    """Check the interface imbalanced-learn's Pipeline requires of a sampler."""
    sampler = NSigmaOutlierFilter()
    assert hasattr(sampler, "fit_resample")
    assert not hasattr(sampler, "transform")
    assert not hasattr(sampler, "fit_transform")


def test_imblearn_is_not_imported():
    """Check that the filter works without importing imbalanced-learn."""
    code = (
        "import sys, numpy as np\n"
        "from sklearn_nsigma import NSigmaOutlierFilter\n"
        "X = np.random.RandomState(0).normal(size=(50, 2))\n"
        "NSigmaOutlierFilter().fit_resample(X, np.arange(50))\n"
        "assert 'imblearn' not in sys.modules, 'imblearn was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- in imbalanced-learn's Pipeline ----------------------------------------
class CountingKNN(KNeighborsRegressor):
    """Remembers the number of rows it was fitted on and predicted."""

    def fit(self, X, y):
        self.n_fit_rows_ = len(X)
        return super().fit(X, y)


def test_imblearn_pipeline_filters_at_fit_only():
    """Check that the downstream model trains on inliers but predicts every row."""
    imblearn_pipeline = pytest.importorskip("imblearn.pipeline")
    X, y, is_outlier = _regression()
    pipe = imblearn_pipeline.make_pipeline(
        NSigmaOutlierFilter(_detector(robust=0.975)), CountingKNN(n_neighbors=5)
    ).fit(X, y)
    sampler, model = pipe[0], pipe[-1]
    assert model.n_fit_rows_ == len(sampler.sample_indices_) < len(X)
    assert model.n_samples_fit_ == model.n_fit_rows_
    assert pipe.predict(X).shape == (len(X),)
    assert not np.isin(np.flatnonzero(is_outlier), sampler.sample_indices_).any()


def test_imblearn_pipeline_improves_a_linear_model():
    """Check that dropping corrupted rows before a regression helps it."""
    imblearn_pipeline = pytest.importorskip("imblearn.pipeline")
    X, y, _ = _regression(seed=0)
    X_test, y_test, is_outlier = _regression(seed=1)
    clean = ~is_outlier
    plain = LinearRegression().fit(X, y)
    filtered = imblearn_pipeline.make_pipeline(
        NSigmaOutlierFilter(_detector(robust=0.975)), LinearRegression()
    ).fit(X, y)
    assert_allclose(filtered[-1].coef_, [2.0, -1.0], atol=0.05)
    assert filtered.score(X_test[clean], y_test[clean]) > 0.99
    assert plain.score(X_test[clean], y_test[clean]) < 0.9


@pytest.mark.parametrize("use_memory", [False, True])
def test_grid_search_over_the_filter_n_sigma(tmp_path, use_memory):
    """Check GridSearchCV over the filter's n_sigma with the model's score."""
    imblearn_pipeline = pytest.importorskip("imblearn.pipeline")
    X, y, _ = _regression()
    memory = str(tmp_path) if use_memory else None
    pipe = imblearn_pipeline.Pipeline(
        [
            ("filter", NSigmaOutlierFilter(_detector(memory=memory))),
            ("model", LinearRegression()),
        ]
    )
    grid = [1.0, 2.0, 3.0, 5.0, 20.0]
    search = GridSearchCV(
        pipe,
        {"filter__detector__n_sigma": grid},
        cv=KFold(3, shuffle=True, random_state=0),
        scoring="neg_median_absolute_error",
    ).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    # n_sigma = 20 keeps the corrupted rows, and the fit suffers for it.
    assert scores[-1] < scores.max() - 0.5
    assert search.best_params_["filter__detector__n_sigma"] in (1.0, 2.0, 3.0)
    best = search.best_estimator_
    assert len(best[0].sample_indices_) < len(X)
    assert_allclose(best[-1].coef_, [2.0, -1.0], atol=0.05)


def test_clone_keeps_parameters():
    """Check that the filter clones with its detector's parameters."""
    sampler = NSigmaOutlierFilter(_detector(3, n_sigma=2.0, min_weight=0.1))
    params = clone(sampler).get_params()
    assert params["detector__n_sigma"] == 2.0
    assert params["detector__min_weight"] == 0.1
    assert params["detector__estimator"].n_components == 3


def test_detector_is_cloned_not_modified():
    """Check that the detector passed in stays unfitted; its clone is fitted."""
    X, y, _ = _regression()
    detector = _detector()
    sampler = NSigmaOutlierFilter(detector).fit(X)
    assert not hasattr(detector, "threshold_")
    assert sampler.detector_ is not detector
    assert sampler.detector_.threshold_ == 3.0


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_sigma": 2.0}, r"\['n_sigma'\].*set detector__n_sigma"),
        ({"estimator": None, "memory": None}, "filter__detector__estimator"),
    ],
)
def test_the_detector_parameters_are_not_the_filter_s(params, match):
    """Check setting a detector parameter on the filter names its new path."""
    with pytest.raises(ValueError, match=match):
        NSigmaOutlierFilter().set_params(**params)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        NSigmaOutlierFilter(**params)


def test_grid_search_old_parameter_path_is_refused():
    """Check a search over filter__n_sigma fails, naming filter__detector__n_sigma."""
    imblearn_pipeline = pytest.importorskip("imblearn.pipeline")
    X, y, _ = _regression()
    pipe = imblearn_pipeline.Pipeline(
        [("filter", NSigmaOutlierFilter()), ("model", LinearRegression())]
    )
    search = GridSearchCV(pipe, {"filter__n_sigma": [2.0]}, cv=2, error_score="raise")
    with pytest.raises(ValueError, match="filter__detector__n_sigma"):
        search.fit(X, y)


def test_mixture_as_detector_gets_a_hint():
    """Check that a Gaussian mixture in place of a detector is refused clearly."""
    X, _, _ = _regression()
    with pytest.raises(TypeError, match=r"NSigmaOutlierFilter\(NSigmaOutlierDetector"):
        NSigmaOutlierFilter(_gmm()).fit(X)


def test_any_outlier_detector_chooses_the_rows():
    """Check another scikit-learn outlier detector drops the rows it flags."""
    from sklearn.neighbors import LocalOutlierFactor

    X, y, _ = _regression()
    lof = LocalOutlierFactor(n_neighbors=20, contamination=0.1)
    X_res, y_res = NSigmaOutlierFilter(lof).fit_resample(X, y)
    kept = LocalOutlierFactor(n_neighbors=20, contamination=0.1).fit_predict(X) == 1
    assert_array_equal(X_res, X[kept])
    assert_array_equal(y_res, y[kept])
    assert len(X_res) == len(X) - int(0.1 * len(X))
