"""The robust re-estimation with few samples per feature, and its merge test."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from sklearn.mixture import GaussianMixture

from sklearn_nsigma import NSigmaOutlierDetector
from sklearn_nsigma._robust import (
    MAX_ITERATIONS,
    _variance_inflation,
    background_components,
    covariances_from_factors,
    merge_components,
)


def _equicorrelated(n_samples, n_features, rho, rng):
    """Gaussian samples whose features all have correlation ``rho``."""
    correlation = np.full((n_features, n_features), rho) + (1 - rho) * np.eye(
        n_features
    )
    return rng.normal(size=(n_samples, n_features)) @ np.linalg.cholesky(correlation).T


def _detector_covariance(detector):
    """The covariance of the detector's (single) re-estimated component."""
    fitted = detector._fitted_mixture
    factors = np.asarray(fitted.precisions_cholesky, dtype=np.float64)
    return covariances_from_factors(factors, fitted.covariance_type)[0]


@pytest.mark.parametrize("samples_per_feature, diagonal", [(5, True), (12, False)])
def test_few_samples_per_feature_give_a_diagonal_covariance(
    samples_per_feature, diagonal
):
    """Check that the correlations are estimated from enough samples only.

    Below 10 samples per feature the sample covariance's smallest
    eigenvalues are far below the truth's, and the distances along them,
    noise, swamped the ranking (the breast cancer table with one class held
    out: ROC AUC 0.61 with full covariances).
    """
    rng = np.random.RandomState(0)
    n_features = 20
    X = _equicorrelated(samples_per_feature * n_features, n_features, 0.5, rng)
    detector = NSigmaOutlierDetector(GaussianMixture(random_state=0)).fit(X)
    covariance = _detector_covariance(detector)
    off_diagonal = covariance - np.diag(np.diag(covariance))
    assert (np.abs(off_diagonal).max() == 0) == diagonal
    # the diagonal law of correlated features has fewer degrees of freedom
    assert (detector._laws.dfn[0] < n_features) == diagonal


def test_robust_fit_reaches_a_fixed_point_at_ten_samples_per_feature():
    """Check that a component does not flip between full and diagonal.

    201 samples in 20-D, one of them an outlier: trimmed under the full
    covariance the component kept 199 samples, fewer than 10 per feature,
    became diagonal, whose wider law kept 200, became full again, and so on
    for all 30 steps; the law at the end depended on the parity.
    """
    rng = np.random.RandomState(43)
    X = _equicorrelated(201, 20, 0.5, rng)
    X[0] += 6
    detector = NSigmaOutlierDetector(GaussianMixture(random_state=0)).fit(X)
    assert detector.n_robust_iter_ < MAX_ITERATIONS
    assert detector._laws.dfn[0] < 20  # it stayed diagonal


def test_diagonal_law_is_calibrated_on_independent_features():
    """Check the share of new samples flagged with 5 samples per feature.

    The predictive law of a diagonal covariance (each variance from ``n``
    samples) holds the nominal 0.27 % of a 3-sigma rule, averaged over
    training sets.
    """
    rng = np.random.RandomState(1)
    n_features, rates = 20, []
    for _ in range(10):
        X = rng.normal(size=(5 * n_features, n_features))
        detector = NSigmaOutlierDetector(GaussianMixture(random_state=0)).fit(X)
        new = rng.normal(size=(20000, n_features))
        rates.append(np.mean(detector.predict(new) == -1))
    assert 0.001 < np.mean(rates) < 0.008


def test_correlated_features_widen_the_diagonal_law():
    """Check that correlations left out of the covariance widen its law.

    Features with correlation 0.5 and a diagonal covariance: the squared
    distances have the mean of ``chi2(d)`` but 10.5 times its variance; read
    as ``chi2(d)`` (or its predictive F law) 10 % of new samples were
    flagged at 3 sigma.
    """
    rng = np.random.RandomState(2)
    n_features, rates = 20, []
    for _ in range(10):
        X = _equicorrelated(5 * n_features, n_features, 0.5, rng)
        detector = NSigmaOutlierDetector(GaussianMixture(random_state=0)).fit(X)
        new = _equicorrelated(20000, n_features, 0.5, rng)
        rates.append(np.mean(detector.predict(new) == -1))
    assert np.mean(rates) < 0.02


@settings(max_examples=20, deadline=None)
@given(
    n_features=st.integers(2, 12),
    rho=st.floats(0.0, 0.9),
    seed=st.integers(0, 2**31 - 1),
)
def test_variance_inflation_of_equicorrelated_features(n_features, rho, seed):
    """Check ``tr(R**2) / d = 1 + (d - 1) rho**2`` for correlation ``rho``."""
    rng = np.random.RandomState(seed)
    n_rows = 20000
    rows = _equicorrelated(n_rows, n_features, rho, rng)
    scatter = np.cov(rows, rowvar=False, bias=True)
    expected = 1 + (n_features - 1) * rho**2
    assert _variance_inflation(scatter, n_rows, 0.0) == pytest.approx(
        expected, abs=0.05 * n_features * max(rho, 0.1)
    )


def test_independent_features_have_no_variance_inflation():
    """Check that sampling noise in the correlations is not taken for them."""
    rng = np.random.RandomState(3)
    for n_rows in (25, 100, 1000):
        rows = rng.normal(size=(n_rows, 30))
        scatter = np.cov(rows, rowvar=False, bias=True)
        assert _variance_inflation(scatter, n_rows, 0.0) < 1.1


@pytest.mark.parametrize("angle", [10, 30, 60])
def test_parallel_elongated_clusters_are_not_merged(angle):
    """Check the merge test on two long clusters side by side.

    Seen along Fisher's direction with the pooled covariance's diagonal
    only, two parallel clusters 7.5 of their narrow sigmas apart (and not
    aligned with the axes) overlapped, and were merged into one ellipsoid
    that covered the space between them; with 400 samples in 2-D the full
    pooled covariance separates them.
    """
    rng = np.random.RandomState(angle)
    theta = np.deg2rad(angle)
    rotation = np.array(
        [[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]
    )
    covariance = rotation @ np.diag([9.0, 0.04]) @ rotation.T
    apart = 1.5 * rotation[:, 1]
    X = np.concatenate(
        [
            rng.multivariate_normal([0.0, 0.0], covariance, 200),
            rng.multivariate_normal(apart, covariance, 200),
        ]
    )
    owner = np.repeat([0, 1], 200)
    assert merge_components(X, owner, np.array([0, 1])) == {}
    # one such cluster cut in two is still merged
    one = X[:200]
    owner = (one @ rotation[:, 0] > 0).astype(int)
    assert merge_components(one, owner, np.array([0, 1])) == {1: 0} or (
        merge_components(one, owner, np.array([0, 1])) == {0: 1}
    )


def test_pieces_of_uniform_noise_are_background():
    """Check that noise cut in pieces by the mixture is left out as background.

    In few dimensions k-means cuts uniform noise into compact pieces: a
    Gaussian fitted to a quarter of the box is denser than the whole box,
    but its share of the samples spread over it is not, and its ellipsoid
    made the noise around it inliers (2-D clusters with 10 % noise).
    """
    rng = np.random.RandomState(0)
    centres = np.array([[-5.0, -5.0], [5.0, -4.0], [0.0, 5.0]])
    clusters = np.concatenate([c + 0.3 * rng.normal(size=(300, 2)) for c in centres])
    noise = rng.uniform(-8, 8, size=(100, 2))
    X = np.concatenate([clusters, noise])
    quadrant = 3 + (noise[:, 0] > 0) + 2 * (noise[:, 1] > 0)
    owner = np.concatenate([np.repeat([0, 1, 2], 300), quadrant])
    background = background_components(X, owner, np.arange(7), "full")
    assert_array_equal(background, [3, 4, 5, 6])


@pytest.mark.parametrize("n_broad, spread", [(100, 1.5), (200, 1.5), (250, 2.0)])
def test_a_broad_cluster_is_not_background(n_broad, spread):
    """Check that a cluster less dense than the data on average is kept.

    Compared with all the samples spread over the box (instead of the
    noise's own share of them), a broad 2-D cluster holding 11 to 24 % of
    the samples next to two tight ones was left out as background, and
    all its samples were flagged.
    """
    rng = np.random.RandomState(0)
    X = np.concatenate(
        [
            rng.normal([0, 0], 0.3, (400, 2)),
            rng.normal([10, 0], 0.3, (400, 2)),
            rng.normal([5, 8], spread, (n_broad, 2)),
        ]
    )
    detector = NSigmaOutlierDetector(GaussianMixture(3, random_state=0)).fit(X)
    assert np.mean(detector.predict(X[800:]) == -1) < 0.02
