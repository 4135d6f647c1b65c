"""Behaviour of NSigmaGaussianMixture beyond what GaussianMixture does."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import chi2
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture

from sklearn_nsigma import NSigmaGaussianMixture, sigma_to_coverage

COVARIANCE_TYPE = ["full", "tied", "diag", "spherical"]


def make_data(n_samples=400, n_features=3, offset=0.0, seed=0):
    rng = np.random.RandomState(seed)
    A = rng.normal(size=(n_features, n_features))
    first = rng.normal(size=(n_samples // 2, n_features)) @ A
    second = rng.normal(size=(n_samples // 2, n_features)) * 0.5 + 6
    return np.concatenate([first, second]) + offset


def naive_mahalanobis(X, model):
    """sqrt((x - mu)^T S^-1 (x - mu)) with S rebuilt from covariances_."""
    covariances = model.ellipsoid_params_.covariances()
    out = np.empty((X.shape[0], model.n_components))
    for k in range(model.n_components):
        diff = X - model.means_[k]
        out[:, k] = np.sqrt(
            np.einsum("ij,jk,ik->i", diff, np.linalg.inv(covariances[k]), diff)
        )
    return out


@pytest.fixture(params=COVARIANCE_TYPE)
def fitted(request):
    X = make_data()
    model = NSigmaGaussianMixture(
        n_components=2, covariance_type=request.param, random_state=0
    ).fit(X)
    return model, X


@pytest.mark.parametrize("offset", [0.0, 1e6])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
def test_mahalanobis_matches_the_formula(covariance_type, offset):
    """Check mahalanobis against the textbook formula, also far from the origin."""
    X = make_data(offset=offset)
    model = NSigmaGaussianMixture(
        n_components=2, covariance_type=covariance_type, random_state=0
    ).fit(X)
    distances = model.mahalanobis(X)
    assert distances.shape == (X.shape[0], 2)
    assert_allclose(distances, naive_mahalanobis(X, model), rtol=1e-9)


def test_mahalanobis_is_consistent_with_score_samples():
    """Check that distances reproduce GaussianMixture's own log-density."""
    X = make_data()
    model = NSigmaGaussianMixture(n_components=2, random_state=0).fit(X)
    d = X.shape[1]
    _, logdets = np.linalg.slogdet(model.covariances_)
    log_gauss = -0.5 * (
        d * np.log(2 * np.pi) + logdets + model.mahalanobis(X) ** 2
    ) + np.log(model.weights_)
    expected = np.logaddexp.reduce(log_gauss, axis=1)
    assert_allclose(model.score_samples(X), expected, rtol=1e-10)


def test_float32_stays_float32(fitted):
    """Check that float32 input is computed and returned in float32."""
    model, X = fitted
    X32 = X.astype(np.float32)
    distances = model.mahalanobis(X32)
    assert distances.dtype == np.float32
    assert model.tail_probability(X32).dtype == np.float32
    assert_allclose(distances, model.mahalanobis(X32.astype(np.float64)), rtol=1e-4)


def test_float32_fit_gives_float32_ellipsoids():
    """Check that a float32 fit keeps its geometry in float32."""
    X = make_data().astype(np.float32)
    model = NSigmaGaussianMixture(n_components=2, random_state=0).fit(X)
    # GaussianMixture fits float32 in float32 from scikit-learn 1.7 on; the
    # ellipsoids keep the dtype of the fitted covariances either way.
    assert model.ellipsoid_params_.radii.dtype == model.covariances_.dtype
    assert model.mahalanobis(X).dtype == np.float32


def test_predict_within_agrees_with_mahalanobis(fitted):
    """Check predict_within against thresholded distances, both shapes."""
    model, X = fitted
    distances = model.mahalanobis(X)
    for n_sigma in (0.5, 1.0, 2.0, 3.0):
        per_component = model.predict_within(X, n_sigma, per_component=True)
        assert per_component.dtype == bool
        assert_array_equal(per_component, distances <= n_sigma)
        assert_array_equal(
            model.predict_within(X, n_sigma), (distances <= n_sigma).any(axis=1)
        )


def test_predict_within_per_component_thresholds(fitted):
    """Check that an array n_sigma applies one radius per component."""
    model, X = fitted
    thresholds = np.array([0.5, 2.5])
    distances = model.mahalanobis(X)
    assert_array_equal(
        model.predict_within(X, thresholds), (distances <= thresholds).any(axis=1)
    )
    assert_array_equal(
        model.predict_within(X, thresholds, per_component=True),
        distances <= thresholds,
    )


def test_predict_within_boundary_is_inside():
    """Check that a point exactly on the ellipsoid counts as inside."""
    model = NSigmaGaussianMixture(covariance_type="spherical")
    model.fit(np.random.RandomState(0).normal(size=(100, 2)))
    # Overwrite with exactly representable parameters.
    model.means_ = np.zeros((1, 2))
    model.precisions_cholesky_ = np.array([0.5])  # variance 4, sigma 2
    point = np.array([[4.0, 0.0]])  # distance exactly 2
    assert model.mahalanobis(point)[0, 0] == 2.0
    assert model.predict_within(point, 2.0)[0]
    assert not model.predict_within(point, np.nextafter(2.0, 0))[0]


def test_tail_probability_is_chi2_sf(fitted):
    """Check tail probabilities against scipy's chi-square survival function."""
    model, X = fitted
    expected = chi2.sf(model.mahalanobis(X) ** 2, X.shape[1])
    assert_allclose(model.tail_probability(X), expected, rtol=1e-12)
    # ranking by probability is ranking by distance
    order = np.argsort(model.mahalanobis(X)[:, 0])
    assert np.all(np.diff(model.tail_probability(X)[order, 0]) <= 0)


@pytest.mark.parametrize("n_features", [1, 2, 3, 10])
def test_coverage_matches_chi_square(n_features):
    """Check that the fraction within n sigma matches chi2.cdf(n**2, d)."""
    rng = np.random.RandomState(n_features)
    model = NSigmaGaussianMixture(random_state=0)
    model.fit(rng.normal(size=(2000, n_features)) @ rng.normal(size=(n_features,) * 2))
    n_samples = 20_000
    X, _ = model.sample(n_samples)
    for n_sigma in (1.0, 2.0, 3.0):
        expected = sigma_to_coverage(n_sigma, n_features)
        observed = model.predict_within(X, n_sigma).mean()
        # 5 binomial standard errors: fails by chance about once in 3 million
        tolerance = 5 * np.sqrt(expected * (1 - expected) / n_samples) + 1e-4
        assert abs(observed - expected) < tolerance, (n_sigma, observed, expected)


def test_ellipsoid_params_set_by_every_fitting_path():
    """Check fit, fit_predict and warm starts all (re)compute ellipsoid_params_."""
    X = make_data()
    model = NSigmaGaussianMixture(n_components=2, random_state=0)
    model.fit_predict(X)
    assert_allclose(model.ellipsoid_params_.centers, model.means_)

    model = NSigmaGaussianMixture(
        n_components=2, random_state=0, warm_start=True, max_iter=1
    )
    with pytest.warns(Warning):  # ConvergenceWarning after a single iteration
        model.fit(X)
    first = model.ellipsoid_params_.centers.copy()
    with pytest.warns(Warning):
        model.fit(X)
    assert not np.allclose(first, model.ellipsoid_params_.centers)
    assert_allclose(model.ellipsoid_params_.centers, model.means_)
    assert_allclose(model.ellipsoid_params_.covariances(), model.covariances_)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
def test_ellipsoid_reproduces_covariances_and_axis_points(covariance_type):
    """Check R diag(r^2) R^T == covariance and axis ends at distance n."""
    X = make_data()
    model = NSigmaGaussianMixture(
        n_components=2, covariance_type=covariance_type, random_state=0
    ).fit(X)
    params = model.ellipsoid_params_
    covariances = model.covariances_
    if covariance_type == "tied":
        full = np.stack([covariances] * 2)
    elif covariance_type == "diag":
        full = np.stack([np.diag(c) for c in covariances])
    elif covariance_type == "spherical":
        full = np.stack([np.eye(3) * c for c in covariances])
    else:
        full = covariances
    assert_allclose(params.covariances(), full, rtol=1e-10, atol=1e-12)
    assert_allclose(np.linalg.det(params.rotations), 1.0)
    assert np.all(np.diff(params.radii, axis=1) <= 0)
    points = params.axis_points(2.5)
    for k in range(2):
        assert_allclose(model.mahalanobis(points[k])[:, k], 2.5, rtol=1e-10)


def test_angles_in_2d():
    """Check the 2-D major-axis angle against a known rotated covariance."""
    theta = np.deg2rad(30.0)
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    cov = R @ np.diag([9.0, 1.0]) @ R.T
    X = np.random.RandomState(0).multivariate_normal([1, 2], cov, size=20_000)
    model = NSigmaGaussianMixture(random_state=0).fit(X)
    assert abs(model.ellipsoid_params_.angles[0] - 30.0) < 1.0
    assert_allclose(model.ellipsoid_params_.radii[0], [3, 1], rtol=0.02)
    model3 = NSigmaGaussianMixture(random_state=0).fit(make_data())
    assert model3.ellipsoid_params_.angles is None


@pytest.mark.parametrize("n_features", [1, 100])
def test_extreme_dimensions(n_features):
    """Check d = 1 and d = 100 give finite, exact answers."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, n_features)) * rng.uniform(0.5, 2, n_features)
    model = NSigmaGaussianMixture(n_components=2, random_state=0).fit(X)
    distances = model.mahalanobis(X)
    assert np.isfinite(distances).all()
    assert_allclose(distances, naive_mahalanobis(X, model), rtol=1e-8)
    params = model.ellipsoid_params_
    eye = np.broadcast_to(np.eye(n_features), params.rotations.shape)
    assert_allclose(
        params.rotations @ params.rotations.transpose(0, 2, 1), eye, atol=1e-10
    )


@pytest.mark.parametrize("scale", [1e-100, 1e-50, 1.0, 1e50, 1e100])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
def test_extreme_scales(scale, covariance_type):
    """Check that data at 1e-100 .. 1e100 (reg_covar scaled) give scale-free answers."""
    X = make_data(n_samples=200)
    reference = NSigmaGaussianMixture(
        n_components=2, covariance_type=covariance_type, random_state=0
    ).fit(X)
    model = NSigmaGaussianMixture(
        n_components=2,
        covariance_type=covariance_type,
        random_state=0,
        reg_covar=1e-6 * scale**2,
    ).fit(X * scale)
    assert_allclose(model.mahalanobis(X * scale), reference.mahalanobis(X), rtol=1e-6)
    assert_allclose(
        model.ellipsoid_params_.radii / scale,
        reference.ellipsoid_params_.radii,
        rtol=1e-6,
    )
    assert_array_equal(
        model.predict_within(X * scale, 2.0), reference.predict_within(X, 2.0)
    )


def test_nearly_singular_covariance():
    """Check that a nearly flat component has radii >= 0 and orthonormal axes."""
    rng = np.random.RandomState(0)
    t = rng.normal(size=(500, 1))
    X = np.hstack([t, 2 * t, -t]) + 1e-6 * rng.normal(size=(500, 3))
    model = NSigmaGaussianMixture(random_state=0, reg_covar=1e-20).fit(X)
    params = model.ellipsoid_params_
    assert np.all(params.radii >= 0)
    assert np.isfinite(params.radii).all()
    assert_allclose(params.rotations[0] @ params.rotations[0].T, np.eye(3), atol=1e-12)
    assert_allclose(np.linalg.det(params.rotations), 1.0)
    assert np.isfinite(model.mahalanobis(X)).all()


def test_singular_component_gets_an_error_naming_it():
    """Check a hand-made singular component raises, naming it, and never NaN."""
    model = NSigmaGaussianMixture(n_components=2, random_state=0).fit(make_data())
    model.precisions_cholesky_ = model.precisions_cholesky_.copy()
    model.precisions_cholesky_[1] = np.inf  # the inverse of a singular covariance
    with pytest.raises(ValueError, match=r"Component\(s\) \[1\].*singular"):
        model.mahalanobis(make_data())
    with pytest.raises(ValueError, match=r"Component\(s\) \[1\]"):
        model.predict_within(make_data(), 2.0)


@pytest.mark.parametrize(
    "n_sigma, error, match",
    [
        (0, ValueError, "n_sigma"),
        (-1.0, ValueError, "n_sigma"),
        (np.nan, ValueError, "n_sigma"),
        (np.inf, ValueError, "n_sigma"),
        ("3", TypeError, "n_sigma"),
        (True, TypeError, "n_sigma"),
        (np.bool_(True), TypeError, "n_sigma"),
        ([1.0, 2.0, 3.0], ValueError, r"n_sigma.*shape \(3,\)"),
        ([1.0, 0.0], ValueError, "n_sigma"),
        ([[1.0, 2.0]], ValueError, "n_sigma"),
        (None, TypeError, "n_sigma"),
    ],
)
def test_bad_n_sigma(fitted, n_sigma, error, match):
    """Check that every bad n_sigma is refused with a message naming it."""
    model, X = fitted
    with pytest.raises(error, match=match):
        model.predict_within(X, n_sigma)


@pytest.mark.parametrize(
    "bad_X, error, match",
    [
        (np.array([[np.nan, 0.0, 0.0]]), ValueError, "NaN"),
        (np.array([[np.inf, 0.0, 0.0]]), ValueError, "infinity"),
        (np.zeros((2, 4)), ValueError, "4 features"),
        (np.zeros(3), ValueError, "2D array"),
        (sp.csr_matrix(np.zeros((2, 3))), TypeError, "[Ss]parse"),
        (np.array([["a", "b", "c"]]), ValueError, "string|float"),
    ],
)
@pytest.mark.parametrize(
    "method", ["mahalanobis", "predict_within", "tail_probability"]
)
def test_bad_X_leaves_the_model_unchanged(fitted, bad_X, error, match, method):
    """Check that bad X is refused with a clear error and changes nothing."""
    model, _ = fitted
    before = pickle.dumps(model)
    with pytest.raises(error, match=match):
        getattr(model, method)(bad_X)
    assert pickle.dumps(model) == before


@pytest.mark.parametrize(
    "method", ["mahalanobis", "predict_within", "tail_probability"]
)
def test_unfitted_raises_not_fitted(method):
    """Check that the new methods need a fitted model."""
    with pytest.raises(NotFittedError):
        getattr(NSigmaGaussianMixture(), method)(np.zeros((2, 2)))
    assert not hasattr(NSigmaGaussianMixture(), "ellipsoid_params_")


def test_pickle_round_trip(fitted):
    """Check that a pickled model gives identical answers."""
    model, X = fitted
    restored = pickle.loads(pickle.dumps(model))
    assert_array_equal(restored.mahalanobis(X), model.mahalanobis(X))
    assert_array_equal(restored.ellipsoid_params_.radii, model.ellipsoid_params_.radii)


def test_parameters_match_gaussian_mixture():
    """Check that the parameter list is exactly GaussianMixture's."""
    assert NSigmaGaussianMixture().get_params() == GaussianMixture().get_params()


def test_inherited_behaviour_is_unchanged(fitted):
    """Check predictions are identical to a plain GaussianMixture's."""
    model, X = fitted
    plain = GaussianMixture(**model.get_params()).fit(X)
    assert_array_equal(model.predict(X), plain.predict(X))
    assert_allclose(model.score_samples(X), plain.score_samples(X))
    assert_allclose(model.bic(X), plain.bic(X))


def test_mahalanobis_out_is_filled_and_returned(fitted):
    """Check that out= receives the distances and is returned."""
    model, X = fitted
    out = np.full((X.shape[0], 2), np.nan)
    result = model.mahalanobis(X, out=out)
    assert result is out
    assert_allclose(out, naive_mahalanobis(X, model), rtol=1e-9)


@pytest.mark.parametrize(
    "out, error, match",
    [
        (np.empty((3, 2)), ValueError, r"out must have shape \(400, 2\)"),
        (np.empty((400, 2), dtype=np.float32), ValueError, "dtype float64"),
        ([[0.0, 0.0]] * 400, TypeError, "out must be a NumPy array"),
    ],
)
def test_mahalanobis_bad_out(fitted, out, error, match):
    """Check that a wrong out= is refused, naming it."""
    model, X = fitted
    with pytest.raises(error, match=match):
        model.mahalanobis(X, out=out)


@pytest.mark.parametrize("per_component", ["no", 1, None])
def test_per_component_must_be_a_bool(fitted, per_component):
    """Check per_component refuses non-bools instead of reading their truth."""
    model, X = fitted
    with pytest.raises(TypeError, match="per_component must be a bool"):
        model.predict_within(X, 2.0, per_component=per_component)
