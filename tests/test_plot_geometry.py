"""The arrays behind the displays: no matplotlib needed.

Geometry from ``_geometry`` and ``_coverage``, and what the plot package
reads from a fitted mixture (``_plot._mixture``, on ``_fitted``).
"""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import binom, chi2
from sklearn.cluster import KMeans
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

from sklearn_nsigma import NSigmaGaussianMixture, ellipsoid_params, sigma_to_coverage
from sklearn_nsigma._coverage import coverage_curves
from sklearn_nsigma._geometry import ellipsoid_mesh, marginal_params
from sklearn_nsigma._plot._ellipse import ellipse_patch_params
from sklearn_nsigma._plot._mixture import (
    display_min_weight,
    drawn_components,
    drawn_covariances,
    drawn_ellipsoids,
    fitted_mixture,
    mahalanobis_distances,
    mixture_ellipsoids,
)

COVARIANCE_TYPE = ["full", "tied", "diag", "spherical"]


@st.composite
def covariances(draw, n_features, max_components=3):
    """Random SPD matrices of shape (k, n_features, n_features)."""
    k = draw(st.integers(1, max_components))
    A = draw(arrays(np.float64, (k, n_features, n_features), elements=st.floats(-3, 3)))
    return A @ A.transpose(0, 2, 1) + 0.1 * np.eye(n_features)


def squared_distance(points, center, covariance):
    diff = points - center
    return np.einsum("...i,ij,...j->...", diff, np.linalg.inv(covariance), diff)


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.RandomState(0)
    return np.concatenate(
        [
            rng.multivariate_normal(
                [0, 0, 0], [[3, 1, 0], [1, 2, 0.5], [0, 0.5, 1]], 150
            ),
            rng.multivariate_normal([6, 6, 0], np.eye(3), 150),
        ]
    )


@settings(max_examples=60, deadline=None)
@given(covariances(2), st.lists(st.floats(0.1, 5), min_size=1, max_size=4))
def test_ellipse_patch_boundary_is_at_n_sigma(covs, levels):
    """Check the Ellipse(width, height, angle) outline lies at distance n."""
    means = np.zeros((covs.shape[0], 2))
    params = ellipsoid_params(means, covs, "full")
    widths, heights, angles = ellipse_patch_params(params.radii, params.angles, levels)
    assert widths.shape == heights.shape == angles.shape == (len(levels), len(covs))
    assert_allclose(widths, 2 * np.outer(levels, params.radii[:, 0]))
    assert_allclose(heights, 2 * np.outer(levels, params.radii[:, 1]))
    assert_array_equal(angles, np.broadcast_to(params.angles, angles.shape))
    t = np.linspace(0, 2 * np.pi, 16)
    for i, n in enumerate(levels):
        for k in range(len(covs)):
            # matplotlib's Ellipse: axes of width/2 and height/2, rotated by angle.
            theta = np.radians(angles[i, k])
            rotation = np.array(
                [[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]
            )
            local = np.stack(
                [widths[i, k] / 2 * np.cos(t), heights[i, k] / 2 * np.sin(t)]
            )
            outline = (rotation @ local).T
            assert_allclose(
                np.sqrt(squared_distance(outline, means[k], covs[k])), n, rtol=1e-6
            )


def test_ellipse_patch_params_rejects_other_dimensions():
    """Check that 3-D radii are refused with a clear message."""
    with pytest.raises(ValueError, match=r"radii of shape \(n_components, 2\)"):
        ellipse_patch_params(np.ones((1, 3)), np.zeros(1), 1.0)


@settings(max_examples=40, deadline=None)
@given(
    covariances(4, max_components=2),
    st.floats(0.5, 4),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 2**32 - 1),
)
def test_marginal_ellipse_is_the_shadow_of_the_ellipsoid(covs, n, i, j, seed):
    """Check that projected ellipsoid points fill the marginal ellipse exactly.

    Every point of the d-D n-sigma ellipsoid projects inside the marginal
    ellipse of (i, j) at the same radius, and the projections of the
    ellipsoid's extreme points in each direction reach its boundary.
    """
    if i == j:
        j = (i + 1) % 4
    means = np.random.RandomState(seed).normal(size=(covs.shape[0], 4))
    params = ellipsoid_params(means, covs, "full")
    marginal = marginal_params(params, [i, j])
    assert_allclose(
        marginal.covariances(), covs[:, [i, j]][:, :, [i, j]], rtol=1e-7, atol=1e-9
    )
    assert_allclose(marginal.centers, means[:, [i, j]])
    rng = np.random.RandomState(seed)
    for k in range(covs.shape[0]):
        # Points on the d-D boundary: center + n * L u, |u| = 1.
        u = rng.normal(size=(200, 4))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        boundary = means[k] + n * u @ np.linalg.cholesky(covs[k]).T
        shadow = np.sqrt(
            squared_distance(
                boundary[:, [i, j]], means[k, [i, j]], marginal.covariances()[k]
            )
        )
        assert (shadow <= n * (1 + 1e-9)).all()
        # The extreme point in direction w (zero outside i, j) is S w / sqrt(w'Sw).
        w = np.zeros(4)
        w[[i, j]] = rng.normal(size=2)
        extreme = means[k] + n * covs[k] @ w / np.sqrt(w @ covs[k] @ w)
        reach = np.sqrt(
            squared_distance(
                extreme[[i, j]], means[k, [i, j]], marginal.covariances()[k]
            )
        )
        assert_allclose(reach, n, rtol=1e-6)


def test_marginal_params_rejects_bad_features():
    """Check that out-of-range feature indices raise."""
    params = ellipsoid_params(np.zeros((1, 3)), np.eye(3)[np.newaxis])
    with pytest.raises(ValueError, match=r"indices in \[0, 3\)"):
        marginal_params(params, [0, 3])


@settings(max_examples=40, deadline=None)
@given(covariances(3), st.floats(0.2, 5), st.integers(3, 30))
def test_ellipsoid_mesh_lies_at_n_sigma(covs, n, resolution):
    """Check that every mesh point is at Mahalanobis distance n from the centre."""
    centers = np.arange(covs.shape[0] * 3, dtype=float).reshape(-1, 3)
    params = ellipsoid_params(centers, covs, "full")
    for k in range(covs.shape[0]):
        x, y, z = ellipsoid_mesh(
            params.centers[k], params.radii[k], params.rotations[k], n, resolution
        )
        assert x.shape == y.shape == z.shape == (resolution, resolution)
        points = np.stack([x, y, z], axis=-1)
        assert_allclose(
            np.sqrt(squared_distance(points, centers[k], covs[k])), n, rtol=1e-6
        )


def test_ellipsoid_mesh_spans_the_semi_axes():
    """Check that the mesh reaches n * radius along each principal axis."""
    x, y, z = ellipsoid_mesh([1.0, 2.0, 3.0], [3.0, 2.0, 1.0], np.eye(3), 2.0, 25)
    assert_allclose([x.max() - 1, y.max() - 2, z.max() - 3], [6.0, 4.0, 2.0])
    assert_allclose([x.min() - 1, y.min() - 2, z.min() - 3], [-6.0, -4.0, -2.0])


def test_ellipsoid_mesh_rejects_2d():
    """Check that a 2-D ellipse is refused."""
    with pytest.raises(ValueError, match="3-D ellipsoid"):
        ellipsoid_mesh(np.zeros(2), np.ones(2), np.eye(2))


def test_coverage_curves_weight_by_responsibility():
    """Check the responsibility-weighted fraction on a hand-made example."""
    distances = np.array([[0.5, 3.0], [1.5, 0.2], [2.5, 1.0], [3.5, 5.0]])
    responsibilities = np.array([[1.0, 0.0], [0.5, 0.5], [0.25, 0.75], [1.0, 0.0]])
    observed, effective_n = coverage_curves(distances, responsibilities, [1, 2, 3])
    assert_allclose(effective_n, [2.75, 1.25])
    assert_allclose(observed[0], [1 / 2.75, 1.5 / 2.75, 1.75 / 2.75])
    assert_allclose(observed[1], [1.25 / 1.25, 1.0, 1.0])


def test_coverage_curves_follow_chi_square_for_a_gaussian():
    """Check that the observed coverage of Gaussian data matches chi2.cdf."""
    rng = np.random.RandomState(0)
    n_samples, d = 4000, 3
    X = rng.multivariate_normal(
        np.zeros(d), [[2, 0.5, 0], [0.5, 1, 0.2], [0, 0.2, 1]], n_samples
    )
    gmm = NSigmaGaussianMixture(random_state=0).fit(X)
    levels = np.array([1.0, 2.0, 3.0])
    observed, _ = coverage_curves(gmm.mahalanobis(X), gmm.predict_proba(X), levels)
    expected = sigma_to_coverage(levels, d)
    assert_allclose(expected, chi2.cdf(levels**2, d))
    # Binomial 99.9 % band, widened a little for the fitted parameters.
    low = binom.ppf(0.0005, n_samples, expected) / n_samples - 0.01
    high = binom.ppf(0.9995, n_samples, expected) / n_samples + 0.01
    assert ((observed[0] >= low) & (observed[0] <= high)).all()


def test_coverage_curves_reveal_a_missing_component():
    """Check that one component over two clusters departs from chi-square."""
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(-4, 1, (500, 2)), rng.normal(4, 1, (500, 2))])
    gmm = NSigmaGaussianMixture(n_components=1, random_state=0).fit(X)
    levels = np.array([0.5, 1.0])
    observed, _ = coverage_curves(gmm.mahalanobis(X), gmm.predict_proba(X), levels)
    expected = sigma_to_coverage(levels, 2)
    # The centre of the single ellipse lies between the clusters: empty.
    assert observed[0, 0] == 0 and expected[0] > 0.1
    assert observed[0, 1] < expected[1] - 0.1


def test_display_min_weight_and_detector_eligibility(blobs):
    """Check min_weight hiding, what 'auto' means for a display, and the
    detector's eligible components."""
    assert display_min_weight("auto", None, None) == 0.05
    assert display_min_weight("auto", None, 20) == 0.1
    assert display_min_weight(0.3, None, 20) == 0.3

    class Detector:
        eligible_components_ = np.array([True, False, True])
        min_weight_ = 0.25

    assert display_min_weight("auto", Detector(), 20) == 0.25
    with pytest.raises(ValueError, match="min_weight must be .* or 'auto'"):
        display_min_weight("half", None, 20)

    mixture = GaussianMixture(n_components=3, random_state=0).fit(blobs)
    assert_array_equal(drawn_components(mixture, None, 0.0), [0, 1, 2])
    assert_array_equal(drawn_components(mixture, Detector(), 0.0), [0, 2])
    with pytest.raises(ValueError, match="min_weight must be a number"):
        drawn_components(mixture, None, 2.0)
    # 'auto' without a detector: max(0.05, 2 / n_samples)
    mixture.weights_ = np.array([0.04, 0.06, 0.9])
    assert_array_equal(drawn_components(mixture, None, "auto"), [1, 2])
    assert_array_equal(drawn_components(mixture, None, "auto", 20), [2])
    assert_array_equal(drawn_components(mixture, None, "auto", 1000), [1, 2])


def test_auto_min_weight_matches_the_detector():
    """Check a display's 'auto' for a mixture is the detector's rule."""
    from sklearn_nsigma import NSigmaOutlierDetector

    X = np.random.RandomState(0).normal(size=(30, 2))
    detector = NSigmaOutlierDetector(GaussianMixture(2, random_state=0)).fit(X)
    assert detector.min_weight_ == display_min_weight("auto", None, 30, 2)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
def test_drawn_covariances_match_the_ellipsoids(blobs, covariance_type):
    """Check the covariances drawn pairwise are those of the drawn ellipsoids,
    scaled for a calibrated detector."""
    from sklearn_nsigma import NSigmaOutlierDetector

    gmm = GaussianMixture(
        n_components=2, covariance_type=covariance_type, random_state=0
    ).fit(blobs)
    assert_allclose(drawn_covariances(gmm, None), mixture_ellipsoids(gmm).covariances())
    detector = NSigmaOutlierDetector(FrozenEstimator(gmm)).fit(blobs)
    assert not np.allclose(detector.radii_, detector.threshold_)
    assert_allclose(
        drawn_covariances(gmm, detector),
        drawn_ellipsoids(gmm, detector).covariances(),
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
def test_mahalanobis_distances_of_plain_mixtures(blobs, covariance_type):
    """Check the distances of GaussianMixture against the textbook formula."""
    gmm = GaussianMixture(
        n_components=2, covariance_type=covariance_type, random_state=0
    ).fit(blobs)
    ours = NSigmaGaussianMixture(
        n_components=2, covariance_type=covariance_type, random_state=0
    ).fit(blobs)
    distances = mahalanobis_distances(blobs[:20], gmm)
    full = mixture_ellipsoids(gmm).covariances()
    for k in range(2):
        expected = np.sqrt(squared_distance(blobs[:20], gmm.means_[k], full[k]))
        assert_allclose(distances[:, k], expected, rtol=1e-6)
    assert_allclose(
        mahalanobis_distances(blobs[:20], ours), ours.mahalanobis(blobs[:20])
    )


def test_fitted_mixture_unwraps_frozen_and_detectors(blobs):
    """Check which estimators are accepted and what comes out."""
    from sklearn_nsigma import NSigmaOutlierDetector

    gmm = GaussianMixture(n_components=2, random_state=0).fit(blobs)
    assert fitted_mixture(gmm) == (gmm, None)
    assert fitted_mixture(FrozenEstimator(gmm)) == (gmm, None)
    bgmm = BayesianGaussianMixture(n_components=3, max_iter=500, random_state=0)
    bgmm.fit(blobs)
    assert fitted_mixture(bgmm) == (bgmm, None)

    detector = NSigmaOutlierDetector(FrozenEstimator(gmm)).fit(blobs)
    assert fitted_mixture(detector) == (gmm, detector)
    detector = NSigmaOutlierDetector(GaussianMixture(random_state=0)).fit(blobs)
    assert fitted_mixture(detector) == (detector.estimator_, detector)

    with pytest.raises(NotFittedError):
        fitted_mixture(GaussianMixture())
    with pytest.raises(NotFittedError):
        fitted_mixture(NSigmaOutlierDetector())
    with pytest.raises(TypeError, match="Expected a Gaussian mixture"):
        fitted_mixture(KMeans(n_clusters=2, n_init=1).fit(blobs))


def test_mixture_ellipsoids_reuse_ellipsoid_params_(blobs):
    """Check that an NSigmaGaussianMixture's own ellipsoids are used."""
    gmm = NSigmaGaussianMixture(n_components=2, random_state=0).fit(blobs)
    params = mixture_ellipsoids(gmm)
    assert_array_equal(params.radii, gmm.ellipsoid_params_.radii)
    assert_array_equal(params.rotations, gmm.ellipsoid_params_.rotations)


def test_importing_the_package_does_not_import_matplotlib():
    """Check that matplotlib stays an optional dependency."""
    code = (
        "import sys, sklearn_nsigma, sklearn_nsigma._plot, sklearn_nsigma._cli;"
        "print('matplotlib' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
