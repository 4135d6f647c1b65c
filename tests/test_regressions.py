"""Regression tests: inputs that once gave a wrong answer or an unclear error."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sklearn_nsigma import ellipsoid_params
from sklearn_nsigma._geometry import precisions_cholesky_from_covariances


# -- ellipsoid_params ---------------------------------------------------------
@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_ellipsoid_params_refuses_a_non_symmetric_covariance(covariance_type):
    """Check [[4, 3], [0, 1]] is refused, naming the component.

    It once gave radii [2, 1], as if the 3 were not there.
    """
    good = np.array([[2.0, 0.5], [0.5, 1.0]])
    bad = np.array([[4.0, 3.0], [0.0, 1.0]])
    if covariance_type == "full":
        covariances, means, match = np.stack([good, bad]), np.zeros((2, 2)), r"\[1\]"
    else:
        covariances, means, match = bad, np.zeros((2, 2)), "The tied covariance"
    with pytest.raises(ValueError, match=f"{match}.*not symmetric"):
        ellipsoid_params(means, covariances, covariance_type)
    with pytest.raises(ValueError, match=f"{match}.*not symmetric"):
        precisions_cholesky_from_covariances(covariances, covariance_type)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ellipsoid_params_accepts_rounding_asymmetry(dtype):
    """Check a covariance symmetric up to rounding is accepted as it is."""
    rng = np.random.RandomState(0)
    A = rng.normal(size=(3, 4, 4))
    covariances = (A @ A.transpose(0, 2, 1) + np.eye(4)).astype(dtype)
    noise = 1 + 10 * np.finfo(dtype).eps * rng.uniform(-1, 1, size=covariances.shape)
    jittered = (covariances * noise).astype(dtype)
    assert (jittered != jittered.transpose(0, 2, 1)).any()
    params = ellipsoid_params(np.zeros((3, 4), dtype), jittered, "full")
    expected = ellipsoid_params(np.zeros((3, 4), dtype), covariances, "full")
    assert_allclose(params.radii, expected.radii, rtol=1e-4)


@pytest.mark.parametrize(
    "covariance_type, covariances",
    [
        ("full", np.zeros((2, 0, 0))),
        ("tied", np.zeros((0, 0))),
        ("diag", np.zeros((2, 0))),
        ("spherical", np.ones(2)),
    ],
)
def test_ellipsoid_params_refuses_zero_features(covariance_type, covariances):
    """Check a clear error for means of 0 features, not a NumPy reduction's."""
    with pytest.raises(ValueError, match="at least one feature"):
        ellipsoid_params(np.zeros((2, 0)), covariances, covariance_type)


# -- displays -------------------------------------------------------------------
@pytest.fixture(scope="module")
def mixture_3d():
    """A fitted two-component mixture in 3-D, with its data."""
    from sklearn_nsigma import NSigmaGaussianMixture

    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(size=(150, 3)), rng.normal(5, 1, size=(50, 3))])
    return NSigmaGaussianMixture(n_components=2, random_state=0).fit(X), X


@pytest.mark.parametrize("display", ["EllipseDisplay", "CoverageDisplay"])
def test_display_min_weight_above_every_weight(pyplot, mixture_3d, display):
    """Check min_weight above every weight draws the heaviest component.

    It once failed with NumPy's "zero-size array to reduction".
    """
    from sklearn_nsigma import _plot

    mixture, X = mixture_3d
    heaviest = int(np.argmax(mixture.weights_))
    kwargs = {"features": (0, 1)} if display == "EllipseDisplay" else {}
    shown = getattr(_plot, display).from_estimator(mixture, X, min_weight=0.9, **kwargs)
    assert list(shown.components) == [heaviest]


@pytest.mark.parametrize(
    "display, features",
    [
        ("EllipseDisplay", (0.5, 1)),
        ("EllipseDisplay", [0, 0, 1]),
        ("EllipseDisplay", (0, 0)),
        ("EllipseDisplay", (True, 0)),
        ("EllipseDisplay", "ab"),
        ("EllipsoidDisplay", (0, 1, 2.0)),
        ("PairwiseEllipseDisplay", [0, 0, 1]),
        ("PairwiseEllipseDisplay", [0, 1.5]),
        ("PairwiseEllipseDisplay", [2]),
    ],
)
def test_display_features_must_be_distinct_integers(
    pyplot, mixture_3d, display, features
):
    """Check fractional, boolean and repeated feature indices are refused."""
    from sklearn_nsigma import _plot

    mixture, X = mixture_3d
    with pytest.raises(ValueError, match="features must be .*distinct feature"):
        getattr(_plot, display).from_estimator(mixture, X, features=features)


def test_display_features_by_name(pyplot):
    """Check names from feature_names_in_ select features; unknown names fail."""
    pd = pytest.importorskip("pandas")
    from sklearn_nsigma import NSigmaGaussianMixture
    from sklearn_nsigma._plot import EllipseDisplay, PairwiseEllipseDisplay

    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    mixture = NSigmaGaussianMixture(random_state=0).fit(X)
    by_name = EllipseDisplay.from_estimator(mixture, X, features=("c", "a"))
    by_index = EllipseDisplay.from_estimator(mixture, X, features=(2, 0))
    assert (by_name.ax_.get_xlabel(), by_name.ax_.get_ylabel()) == ("c", "a")
    assert_allclose(by_name.radii, by_index.radii)
    assert_allclose(by_name.X, X.to_numpy()[:, [2, 0]])
    grid = PairwiseEllipseDisplay.from_estimator(mixture, X, features=["b", 2])
    assert grid.feature_names == ["b", "c"]
    with pytest.raises(ValueError, match="'z', which is not one of"):
        EllipseDisplay.from_estimator(mixture, X, features=("z", "a"))
    plain = NSigmaGaussianMixture(random_state=0).fit(X.to_numpy())
    with pytest.raises(ValueError, match="no names.*integer indices"):
        EllipseDisplay.from_estimator(plain, X.to_numpy(), features=("a", "b"))


@pytest.mark.parametrize("last", ["detector", "mixture"])
def test_displays_accept_a_pipeline(pyplot, mixture_3d, last):
    """Check a Pipeline ending in a detector or mixture is drawn in its space.

    ``Pipeline(StandardScaler(), NSigmaOutlierDetector())`` (as the README
    recommends) once gave a TypeError.
    """
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_nsigma import NSigmaGaussianMixture, NSigmaOutlierDetector
    from sklearn_nsigma._plot import CoverageDisplay, EllipseDisplay

    _, X = mixture_3d
    mixture = NSigmaGaussianMixture(n_components=2, random_state=0)
    step = NSigmaOutlierDetector(mixture) if last == "detector" else mixture
    pipeline = make_pipeline(StandardScaler(), step).fit(X)
    scaled = pipeline[0].transform(X)
    display = EllipseDisplay.from_estimator(pipeline, X, features=(1, 2))
    direct = EllipseDisplay.from_estimator(pipeline[-1], scaled, features=(1, 2))
    assert_allclose(display.X, scaled[:, [1, 2]])
    assert_allclose(display.centers, direct.centers)
    assert_allclose(display.radii, direct.radii)
    assert display.ax_.get_xlabel() == "x1 (after standardscaler)"
    assert display.ax_.get_ylabel() == "x2 (after standardscaler)"
    coverage = CoverageDisplay.from_estimator(pipeline, X)
    reference = CoverageDisplay.from_estimator(pipeline[-1], scaled)
    assert_allclose(coverage.observed, reference.observed)


def test_displays_refuse_a_pipeline_of_something_else(pyplot):
    """Check a Pipeline ending in another estimator gets an error that says
    what to pass."""
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_nsigma._plot import EllipseDisplay

    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 2))
    pipeline = make_pipeline(StandardScaler(), LinearRegression()).fit(X, X[:, 0])
    with pytest.raises(TypeError, match="Pipeline whose last step is one of"):
        EllipseDisplay.from_estimator(pipeline, X)


# -- scorers and the filter ---------------------------------------------------
@pytest.fixture(scope="module")
def detector_and_data():
    from sklearn.mixture import GaussianMixture

    from sklearn_nsigma import NSigmaOutlierDetector

    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(size=(95, 2)), rng.uniform(-8, 8, (5, 2))])
    y = np.r_[np.ones(95), -np.ones(5)]
    detector = NSigmaOutlierDetector(GaussianMixture(random_state=0)).fit(X)
    return detector, X, y


@pytest.mark.parametrize(
    "metric",
    [
        "f1",
        "precision",
        "recall",
        "balanced_accuracy",
        "matthews_corrcoef",
        "roc_auc",
        "average_precision",
    ],
)
def test_outlier_scorer_refuses_y_of_another_length(detector_and_data, metric):
    """Check y shorter than X is refused with a clear message.

    It once gave a raw NumPy broadcast error (or, for 'roc_auc' with one
    class left, NaN and a warning).
    """
    from sklearn_nsigma import make_outlier_scorer

    detector, X, y = detector_and_data
    scorer = make_outlier_scorer(metric)
    assert np.isfinite(scorer(detector, X, y))
    with pytest.raises(ValueError, match="one label in y per row of X.*y 50.* 100"):
        scorer(detector, X, y[:50])
    with pytest.raises(ValueError, match="sample_weight 3"):
        scorer(detector, X, y, sample_weight=np.ones(3))


@pytest.mark.parametrize("parameter", ["n_sigma", "coverage", "contamination"])
def test_filter_bool_threshold_names_the_parameter(parameter):
    """Check a bool threshold of the filter's detector is refused, named."""
    from sklearn_nsigma import NSigmaOutlierDetector, NSigmaOutlierFilter

    X = np.random.RandomState(0).normal(size=(50, 2))
    match = f"'{parameter}' parameter of NSigmaOutlierDetector must"
    sampler = NSigmaOutlierFilter(NSigmaOutlierDetector(**{parameter: True}))
    with pytest.raises((TypeError, ValueError), match=match):
        sampler.fit(X)
    with pytest.raises((TypeError, ValueError), match=match):
        sampler.fit_resample(X, np.ones(50))


# -- calibrated thresholds ------------------------------------------------------
def test_far_threshold_under_a_heavy_tailed_law_fits():
    """Check 60 sigmas under a component of 15 samples in 13-D fit.

    Its predictive law is F(13, 2): the squared radius of 60 sigmas (about
    1e780) is beyond every double, and the fit once stopped with "The
    function value at x=710.0 is NaN" from the root finder (so did
    ``n_sigma=30`` on the standardised wine table). The radius is now inf:
    that component holds every sample.
    """
    from sklearn.frozen import FrozenEstimator
    from sklearn.mixture import GaussianMixture

    from sklearn_nsigma import NSigmaOutlierDetector

    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(size=(300, 13)), rng.normal(size=(15, 13)) + 50])
    mixture = GaussianMixture(2, random_state=0).fit(X)
    X_far = np.concatenate([X, np.full((3, 13), 1e40)])
    detector = NSigmaOutlierDetector(
        FrozenEstimator(mixture), n_sigma=60.0, min_weight=0.0, robust=None
    ).fit(X_far)
    small = np.argmin(mixture.weights_)
    assert np.isinf(detector.radii_[small])
    assert np.isfinite(np.delete(detector.radii_, small)).all()
    assert (detector.predict(X_far) == 1).all()
    assert (detector.decision_function(X_far) >= 0).all()
