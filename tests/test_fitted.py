"""The fitted-mixture view and the parameter validators."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

import sklearn_nsigma._distance as distance
from sklearn_nsigma import (
    NSigmaGaussianMixture,
    NSigmaOutlierDetector,
    coverage_to_sigma,
    sigma_to_coverage,
)
from sklearn_nsigma._fitted import (
    FittedMixture,
    drawn_components,
    eligible_components,
    fitted_mixture,
    mixture_weights,
    resolve_min_weight,
)
from sklearn_nsigma._validation import check_n_sigma

COVARIANCE_TYPE = ["full", "tied", "diag", "spherical"]


def _data(seed=0):
    rng = np.random.RandomState(seed)
    return np.concatenate([rng.normal(0, 1, (150, 2)), rng.normal(6, 1, (150, 2))])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
@pytest.mark.parametrize(
    "wrap",
    [
        lambda gmm: gmm,
        FrozenEstimator,
        lambda gmm: FrozenEstimator(FrozenEstimator(gmm)),
    ],
    ids=["plain", "frozen", "frozen twice"],
)
def test_view_reads_any_wrapping_of_a_mixture(covariance_type, wrap):
    """Check the view of a (frozen) mixture holds its fitted parameters."""
    gmm = GaussianMixture(2, covariance_type=covariance_type, random_state=0)
    gmm.fit(_data())
    view = FittedMixture.from_estimator(wrap(gmm), n_features=2)
    assert_array_equal(view.means, gmm.means_)
    assert_array_equal(view.precisions_cholesky, gmm.precisions_cholesky_)
    assert_array_equal(view.weights, gmm.weights_)
    assert view.covariance_type == covariance_type
    assert (view.n_components, view.n_features) == (2, 2)


def test_view_of_a_detector_is_its_own_robust_view():
    """Check a detector's view holds its robustly re-estimated ellipsoids."""
    X = np.concatenate([_data(), [[30.0, -30.0]] * 3])
    gmm = GaussianMixture(2, random_state=0).fit(X)
    detector = NSigmaOutlierDetector(FrozenEstimator(gmm), robust=0.975).fit(X)
    view = FittedMixture.from_estimator(detector)
    assert view is detector._fitted_mixture
    assert_array_equal(view.weights, gmm.weights_)
    assert not np.allclose(view.means, gmm.means_)  # the outliers pulled a mean
    with pytest.raises(ValueError, match="but X has 3 features"):
        FittedMixture.from_estimator(detector, n_features=3)


def test_view_without_weights_or_factors():
    """Check equal weights and factors from covariances when they are missing."""

    class Bare:
        covariance_type = "diag"
        means_ = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
        covariances_ = np.array([[4.0, 1.0], [1.0, 1.0], [0.25, 1.0]])

    view = FittedMixture.from_estimator(Bare())
    assert_allclose(view.weights, [1 / 3] * 3)
    assert_allclose(view.precisions_cholesky, [[0.5, 1.0], [1.0, 1.0], [2.0, 1.0]])
    assert_allclose(mixture_weights(Bare()), view.weights)


def test_view_rejects_what_is_not_a_mixture():
    """Check clear errors for a non-mixture and inconsistent weights."""
    with pytest.raises(TypeError, match="has no means_, covariance_type"):
        FittedMixture.from_estimator(object())
    gmm = GaussianMixture(2, random_state=0).fit(_data())
    gmm.weights_ = np.ones(3) / 3
    with pytest.raises(ValueError, match=r"weights_ of shape \(3,\); expected \(2,\)"):
        FittedMixture.from_estimator(gmm)


def test_kernels_are_built_once_per_dtype_and_components():
    """Check the view caches one kernel per dtype and set of components."""
    gmm = GaussianMixture(3, random_state=0).fit(_data())
    view = FittedMixture.from_estimator(gmm)
    first = view.kernel("float64")
    assert view.kernel(np.float64) is first
    assert view.kernel("float32") is not first
    subset = np.array([True, False, True])
    assert view.kernel("float64", subset).n_components == 2
    assert view.kernel("float64", subset) is view.kernel("float64", subset.copy())
    checking = view.kernel("float64", check_finite_for="Model")
    assert checking.check_finite_for == "Model" and first.check_finite_for is None
    assert checking.weights is first.weights  # shared, not rebuilt
    restored = pickle.loads(pickle.dumps(view))
    assert restored._kernels == {}
    X = _data(1)
    assert_array_equal(restored.kernel("float64").squared(X), first.squared(X))


def test_fitted_detector_builds_no_kernel_to_predict(monkeypatch):
    """Check the detector's methods reuse the kernels built at fit time."""
    X = _data()
    detector = NSigmaOutlierDetector(GaussianMixture(2, random_state=0)).fit(X)
    detector.predict(X)
    detector.transform(X)
    built = []
    original = distance.MahalanobisKernel.__init__

    def counting_init(self, *args, **kwargs):
        built.append(args)
        original(self, *args, **kwargs)

    monkeypatch.setattr(distance.MahalanobisKernel, "__init__", counting_init)
    for _ in range(3):
        detector.predict(X)
        detector.score_samples(X)
        detector.transform(X)
    assert built == []
    detector.predict(X.astype(np.float32))
    assert len(built) == 1  # the float32 kernel, once


@pytest.mark.parametrize(
    "min_weight, n_samples, expected", [("auto", 1000, 0.05), ("auto", 10, 0.2)]
)
def test_auto_min_weight(min_weight, n_samples, expected):
    """Check 'auto' is max(0.05, (n_features + 2) / n_samples)."""
    assert resolve_min_weight(min_weight, n_samples) == expected
    assert resolve_min_weight(min_weight, n_samples, 3) == max(0.05, 5 / n_samples)
    assert resolve_min_weight(0.3, n_samples) == 0.3


def test_eligibility_keeps_the_heaviest():
    """Check components under min_weight are left out, except the heaviest."""
    weights = np.array([0.2, 0.05, 0.75])
    assert_array_equal(eligible_components(weights, 0.1), [True, False, True])
    assert_array_equal(eligible_components(weights, 0.9), [False, False, True])
    assert_array_equal(eligible_components(weights, 0.0), [True, True, True])
    with pytest.raises(ValueError, match="min_weight must be a number in"):
        eligible_components(weights, True)


def test_fitted_mixture_and_drawn_components():
    """Check the mixture behind a detector, and the components it draws."""
    X = _data()
    bgm = BayesianGaussianMixture(n_components=5, random_state=0).fit(X)
    detector = NSigmaOutlierDetector(FrozenEstimator(bgm)).fit(X)
    assert fitted_mixture(bgm) == (bgm, None)
    assert fitted_mixture(FrozenEstimator(bgm)) == (bgm, None)
    mixture, found = fitted_mixture(detector)
    assert mixture is bgm and found is detector
    heavy = np.flatnonzero(bgm.weights_ >= 0.01)
    assert_array_equal(drawn_components(bgm, None, 0.01), heavy)
    assert_array_equal(
        drawn_components(bgm, detector, 0.0),
        np.flatnonzero(detector.eligible_components_),
    )
    with pytest.raises(TypeError, match="Expected a Gaussian mixture"):
        fitted_mixture(np.zeros(3))
    with pytest.raises(NotFittedError):
        fitted_mixture(NSigmaGaussianMixture())


@pytest.mark.parametrize(
    "kwargs, n_sigma, expected",
    [
        ({}, 3, 3.0),
        ({}, np.float32(2.5), 2.5),
        ({"n_components": 3}, 2, [2.0, 2.0, 2.0]),
        ({"n_components": 2}, [1, 2], [1.0, 2.0]),
        ({"levels": True}, 2, [2.0]),
        ({"levels": True}, (3, 1, 2), [3.0, 1.0, 2.0]),
        ({"allow_zero_and_inf": True}, [[0.0, np.inf]], [[0.0, np.inf]]),
    ],
)
def test_check_n_sigma_forms(kwargs, n_sigma, expected):
    """Check the scalar, per-component, levels and array forms of n_sigma."""
    result = check_n_sigma(n_sigma, **kwargs)
    assert_array_equal(result, expected)
    assert isinstance(result, float) == np.isscalar(expected)


@pytest.mark.parametrize(
    "kwargs, n_sigma, error, match",
    [
        ({}, True, TypeError, "n_sigma must be a positive finite number"),
        ({}, "3", TypeError, "n_sigma"),
        ({}, [1, [2]], TypeError, "n_sigma"),
        ({}, 0.0, ValueError, "got 0.0"),
        ({}, np.nan, ValueError, "n_sigma"),
        ({}, np.inf, ValueError, "n_sigma"),
        ({"n_components": 3}, [1.0, 2.0], ValueError, r"shape \(2,\)"),
        ({"levels": True}, [], ValueError, "non-empty 1-D"),
        ({"levels": True}, [[1.0]], ValueError, "non-empty 1-D"),
        ({"allow_zero_and_inf": True}, -1.0, ValueError, "non-negative"),
        ({"name": "levels"}, -1.0, ValueError, "^levels must be"),
    ],
)
def test_check_n_sigma_errors(kwargs, n_sigma, error, match):
    """Check bad radii raise an error naming the parameter."""
    with pytest.raises(error, match=match):
        check_n_sigma(n_sigma, **kwargs)


@pytest.mark.parametrize(
    "function, value", [(sigma_to_coverage, 3), (coverage_to_sigma, 0.5)]
)
@pytest.mark.parametrize("n_features", [True, np.bool_(True), 0, 2.0])
def test_n_features_is_a_positive_int_not_a_bool(function, value, n_features):
    """Check n_features refuses bools (once taken for 1), 0 and floats."""
    with pytest.raises((TypeError, ValueError), match="'n_features' parameter"):
        function(value, n_features)
