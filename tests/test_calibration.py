"""Calibrated thresholds: the log-space tails, the predictive laws, the detector."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from scipy.special import gammaln
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture
from sklearn.preprocessing import StandardScaler

from sklearn_nsigma import NSigmaOutlierDetector
from sklearn_nsigma._calibration import (
    approximate_squared_radii,
    hotelling_form,
    log_chi2_sf,
    log_f_sf,
    log_tail,
    log_tail_to_sigma,
    reference_form,
    squared_radius,
)
from sklearn_nsigma._robust import background_components, merge_components
from sklearn_nsigma._threshold import (
    _BRACKET_SIGMAS,
    ComponentLaws,
    _largest_log_tail,
)


@pytest.mark.parametrize("df", [1, 3, 10, 50])
def test_log_chi2_sf_matches_scipy_and_stays_finite(df):
    """Check log_chi2_sf against scipy where it is finite, and beyond."""
    x = np.array([0.5, 5.0, 50.0, 500.0, 1200.0])
    assert_allclose(log_chi2_sf(x, df), stats.chi2.logsf(x, df), rtol=1e-10)
    far = log_chi2_sf(np.array([1e4, 1e6]), df)
    assert np.isfinite(far).all()
    # the leading terms of the tail: -x/2 + (df/2 - 1) log(x/2) - log Gamma(df/2)
    y, a = np.array([1e4, 1e6]) / 2, df / 2
    assert_allclose(far, -y + (a - 1) * np.log(y) - gammaln(a), rtol=1e-3)


@pytest.mark.parametrize("dfn, dfd", [(2, 5), (10, 30), (3, 1000)])
def test_log_f_sf_matches_scipy_and_is_monotone(dfn, dfd):
    """Check log_f_sf against scipy, and monotone across the switch to the tail."""
    x = np.array([0.1, 1.0, 10.0, 100.0])
    assert_allclose(log_f_sf(x, dfn, dfd), stats.f.logsf(x, dfn, dfd), rtol=1e-9)
    grid = np.logspace(-2, 300, 3000)
    values = log_f_sf(grid, dfn, dfd)
    assert np.isfinite(values).all()
    assert (np.diff(values) <= 1e-9 * np.abs(values[1:])).all()


@pytest.mark.parametrize("dfd", [np.inf, 7.0, 200.0])
def test_sigmas_are_monotone_and_invert_the_radius(dfd):
    """Check z(r2) is monotone, finite far out, and squared_radius inverts it."""
    r2 = np.logspace(-3, 8, 2000)
    z = log_tail_to_sigma(log_tail(r2, 5, 0.9, dfd))
    assert np.isfinite(z).all() and (np.diff(z) >= 0).all()
    for n_sigma in [1.0, 3.0, 10.0, 60.0]:
        radius = squared_radius(n_sigma, 5, 0.9, dfd)
        assert_allclose(log_tail_to_sigma(log_tail(radius, 5, 0.9, dfd)), n_sigma)


@pytest.mark.parametrize("n_features", [1, 5, 64])
@pytest.mark.parametrize("dfd", [np.inf, 1.0, 6.5, 300.0])
def test_approximate_squared_radii_match_the_exact_ones(n_features, dfd):
    """Check the vectorised radii against squared_radius, and inf beyond."""
    n_sigmas = np.array([0.25, 1.0, 3.0, 7.5, 15.0])
    approximate = approximate_squared_radii(n_sigmas, n_features, 0.7, dfd)
    exact = [squared_radius(z, n_features, 0.7, dfd) for z in n_sigmas]
    assert_allclose(approximate, exact, rtol=1e-9)
    assert approximate_squared_radii([0.0], n_features, 0.7, dfd)[0] == 0.0
    assert np.isinf(approximate_squared_radii([40.0], n_features, 0.7, dfd)[0])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_features=st.sampled_from([1, 2, 10, 50]),
    n_components=st.integers(2, 8),
)
def test_largest_log_tail_skips_only_tails_that_cannot_be_largest(
    seed, n_features, n_components
):
    """Check the bracketed maximum equals the maximum over every component.

    Components of very different laws (chi-square, heavy and light F) and
    samples from the centre to far beyond the bracketing levels and where
    ``betaincinv`` fails (NaN radii), including near-ties between
    components.
    """
    rng = np.random.RandomState(seed)
    scales = rng.uniform(0.3, 1.5, n_components)
    dfds = rng.choice([np.inf, 1.0, 3.0, 10.0, 40.0, 1e4], n_components)
    squared = n_features * np.exp(rng.uniform(-8, 12, (500, n_components)))
    # and far out, where the inverse special functions fail for some F laws
    squared[400:] = 10.0 ** rng.uniform(1, 250, (100, n_components))
    squared[:50, 1] = squared[:50, 0] * scales[0] / scales[1]  # ties under chi2
    # numerator degrees of freedom below n_features: Satterthwaite's laws of
    # components given a diagonal covariance
    dfns = n_features / rng.choice([1.0, 1.0, 1.7, 4.0], n_components)
    laws = ComponentLaws(scales, dfds, dfns)
    radii = [
        approximate_squared_radii(_BRACKET_SIGMAS, dfn, scale, dfd)
        for scale, dfd, dfn in zip(*laws, strict=True)
    ]
    pruned = _largest_log_tail(squared, laws, radii)
    every = np.max(
        [
            log_tail(squared[:, k], dfns[k], scales[k], dfds[k])
            for k in range(n_components)
        ],
        axis=0,
    )
    assert_allclose(pruned, every, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "spherical", "diag"])
def test_hotelling_form_has_the_nominal_coverage(covariance_type):
    """Check by simulation that the predictive radius covers new samples."""
    rng = np.random.RandomState(0)
    n, d, reps, p = 25, 3, 4000, 0.05
    X = rng.normal(size=(reps, n, d))
    new = rng.normal(size=(reps, d))
    mean = X.mean(axis=1)
    centred = X - mean[:, None, :]
    if covariance_type == "full":
        cov = np.einsum("rni,rnj->rij", centred, centred) / n
        diff = new - mean
        r2 = np.einsum("ri,ri->r", diff, np.linalg.solve(cov, diff[..., None])[..., 0])
    else:
        var = (centred**2).mean(axis=1)
        if covariance_type == "spherical":
            var = np.repeat(var.mean(axis=1, keepdims=True), d, axis=1)
        r2 = ((new - mean) ** 2 / var).sum(axis=1)
    scale, dfd = hotelling_form(np.array([float(n)]), d, covariance_type)
    n_sigma = float(log_tail_to_sigma(np.log(p)))
    radius = squared_radius(n_sigma, d, scale[0], dfd[0])
    outside = (r2 > radius).mean()
    assert abs(outside - p) < 4 * np.sqrt(p * (1 - p) / reps)
    # the known-parameter radius over-flags these new samples
    assert (r2 > stats.chi2.isf(p, d)).mean() > p + 0.01


def test_tied_form_with_one_component_is_the_full_form():
    """Check that one tied component gets the full (Hotelling) law."""
    assert_allclose(
        hotelling_form(np.array([40.0]), 4, "tied"),
        hotelling_form(np.array([40.0]), 4, "full"),
    )


def _data():
    rng = np.random.RandomState(0)
    return np.concatenate([rng.normal(0, 1, (300, 3)), rng.normal(6, 1, (300, 3))])


@pytest.mark.parametrize(
    "estimator",
    [
        GaussianMixture(2, random_state=0),
        BayesianGaussianMixture(n_components=4, random_state=0),
    ],
)
@pytest.mark.parametrize("calibration", ["none", "chi2", "predictive"])
def test_predict_agrees_with_decision_function(estimator, calibration):
    """Check predict == 1 exactly where decision_function >= 0, also far out."""
    X = _data()
    detector = NSigmaOutlierDetector(estimator, calibration=calibration).fit(X)
    rng = np.random.RandomState(1)
    X_test = np.concatenate([rng.uniform(-6, 12, (3000, 3)), [[1e6, 0, 0]]])
    for dtype in (np.float64, np.float32):
        decision = detector.decision_function(X_test.astype(dtype))
        assert_array_equal(detector.predict(X_test.astype(dtype)) == 1, decision >= 0)
    scores = detector.score_samples(X_test)
    assert np.isfinite(scores).all()
    assert scores[-1] == scores.min()


def test_calibrated_radii_exceed_the_chi_square_radius():
    """Check the radii: chi2 equals chi2.isf, predictive a bit larger."""
    X = _data()
    chi2 = NSigmaOutlierDetector(GaussianMixture(2, random_state=0), calibration="chi2")
    predictive = NSigmaOutlierDetector(GaussianMixture(2, random_state=0))
    expected = np.sqrt(stats.chi2.isf(2 * stats.norm.sf(3), 3))
    assert_allclose(chi2.fit(X).radii_, expected)
    assert (predictive.fit(X).radii_ > expected).all()
    assert (predictive.radii_ < expected * 1.05).all()


def test_robust_with_frozen_estimator_leaves_the_mixture_alone():
    """Check robust re-estimation keeps its own parameters with a FrozenEstimator."""
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(size=(500, 2)), rng.uniform(-10, 10, (60, 2))])
    gmm = GaussianMixture(random_state=0).fit(X)
    covariances = gmm.covariances_.copy()
    plain = NSigmaOutlierDetector(FrozenEstimator(gmm), robust=None).fit(X)
    robust = NSigmaOutlierDetector(FrozenEstimator(gmm), robust=0.975).fit(X)
    assert_array_equal(gmm.covariances_, covariances)
    assert robust.n_robust_iter_ >= 2
    # the noise no longer inflates the ellipse: more of it is flagged
    flagged = [(d.predict(X[500:]) == -1).mean() for d in (plain, robust)]
    assert flagged[1] > flagged[0] + 0.2
    assert (robust.predict(X[:500]) == -1).mean() < 0.02


def test_reference_form_is_hotelling_with_the_data_count():
    """Check the Bayesian law: Hotelling's with n_k = beta_k - beta_0, rescaled."""
    X = np.random.RandomState(0).normal(size=(300, 4))
    bgm = BayesianGaussianMixture(n_components=1, random_state=0).fit(X)
    scale, dfd = reference_form(bgm, 4)
    n_k = bgm.mean_precision_ - bgm.mean_precision_prior_
    assert_allclose(n_k, [300.0])
    expected_scale, expected_dfd = hotelling_form(n_k, 4, "full")
    share = (bgm.degrees_of_freedom_ - 4) / bgm.degrees_of_freedom_
    assert_allclose(dfd, expected_dfd)
    assert_allclose(scale, expected_scale * share)


@pytest.mark.parametrize("robust", [None, "auto"])
def test_bayesian_default_is_calibrated_in_high_dimension(robust):
    """Check the nominal rate on new samples of one 30-D Gaussian (10 per dim).

    At n_sigma=2 the nominal rate is 4.55 %; the Student t predictive under
    scikit-learn's prior flags 12.4 % here (robust=None).
    """
    rng = np.random.RandomState(0)
    X, X_new = rng.normal(size=(300, 30)), rng.normal(size=(20000, 30))
    detector = NSigmaOutlierDetector(
        BayesianGaussianMixture(n_components=1, random_state=0),
        n_sigma=2.0,
        robust=robust,
    ).fit(X)
    flagged = (detector.predict(X_new) == -1).mean()
    assert 0.025 < flagged < 0.07


def test_merge_components_joins_the_pieces_of_one_cluster_only():
    """Check that k-means pieces of a 20-D Gaussian are merged, clusters apart not."""
    rng = np.random.RandomState(0)
    first = rng.normal(size=(600, 20))
    second = rng.normal(size=(300, 20)) + 12.0
    X = np.concatenate([first, second])
    pieces = np.argsort(first[:, :2] @ rng.normal(size=2)).argsort() * 3 // 600
    owner = np.concatenate([pieces, np.full(300, 3)])  # 3 pieces, then 1 cluster
    into = merge_components(X, owner, np.arange(4))
    assert len(into) == 2  # the three pieces are one component
    assert set(into) | set(into.values()) == {0, 1, 2}


def test_outliers_do_not_merge_a_tight_cluster_into_its_neighbour():
    """Check that two clusters apart stay two when training outliers widen one.

    5 % uniform noise taken by one component makes it broad on the axis
    between the clusters; the merge test must see the components' core
    samples only, or it joins the two clusters into one ellipse.
    """
    rng = np.random.RandomState(0)
    first = rng.multivariate_normal([0, 0], [[4, 1.8], [1.8, 1]], 500)
    second = rng.multivariate_normal([6, -2], [[1, -0.5], [-0.5, 1]], 500)
    X = np.concatenate([first, second])
    rng.normal(size=len(X))  # the example's draws (plot_outlier_pipeline.py)
    noise = rng.uniform(size=len(X)) < 0.05
    X[noise] = rng.uniform([-10, -12], [16, 10], size=(noise.sum(), 2))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    detector = NSigmaOutlierDetector(
        GaussianMixture(n_components=2, random_state=0)
    ).fit(X)
    # merged, the absorbed component would no longer be eligible
    assert detector.eligible_components_.all()


def test_background_components_are_the_noise_ones():
    """Check that a component fitted to uniform noise is background, clusters not."""
    rng = np.random.RandomState(0)
    clusters = [rng.normal(size=(200, 10)) + shift for shift in (0.0, 6.0)]
    noise = rng.uniform(-10, 16, size=(60, 10))
    X = np.concatenate([*clusters, noise])
    owner = np.repeat([0, 1, 2], [200, 200, 60])
    assert_array_equal(background_components(X, owner, np.arange(3), "full"), [2])
    assert_array_equal(background_components(X, owner, np.arange(3), "diag"), [2])


def test_constant_features_do_not_make_every_component_background():
    """Check the background test on data with constant features (digits' pixels).

    A constant feature gives a bounding box of zero volume, which made every
    component "no denser than the background" and left the default with
    one of the ten digits' components.
    """
    rng = np.random.RandomState(0)
    clusters = [rng.normal(size=(200, 10)) + shift for shift in (0.0, 6.0)]
    noise = rng.uniform(-10, 16, size=(60, 10))
    X = np.concatenate([*clusters, noise])
    owner = np.repeat([0, 1, 2], [200, 200, 60])
    with_constants = np.hstack([np.zeros((len(X), 3)), X, np.full((len(X), 1), 7.0)])
    for covariance_type in ("full", "diag", "spherical"):
        assert_array_equal(
            background_components(with_constants, owner, np.arange(3), covariance_type),
            background_components(X, owner, np.arange(3), covariance_type),
        )
    assert_array_equal(
        background_components(np.zeros((len(X), 2)), owner, np.arange(3), "full"),
        [],
    )
    X_digits = load_digits().data
    detector = NSigmaOutlierDetector(random_state=0).fit(X_digits)
    assert detector.eligible_components_.sum() >= 5  # was 1


def test_heavy_tailed_components_are_not_trimmed_without_end():
    """Check that the reweighting stops cutting a Student t cluster's own tail.

    Each trimming step shrank the ellipsoid of heavy-tailed samples further,
    and the fixed point flagged 15.9 % of them (3 degrees of freedom) where
    the untrimmed fit flags 6.9 %; gross outliers around a Gaussian cluster
    are still trimmed.
    """
    rng = np.random.RandomState(0)
    heavy = rng.normal(size=(2000, 10)) / np.sqrt(rng.chisquare(3, size=(2000, 1)) / 3)
    robust = NSigmaOutlierDetector(GaussianMixture(random_state=0)).fit(heavy)
    plain = NSigmaOutlierDetector(GaussianMixture(random_state=0), robust=None)
    plain.fit(heavy)
    assert_array_equal(robust.predict(heavy), plain.predict(heavy))
    assert_allclose(robust._laws.dfd, [2000 - 10])  # all samples, none trimmed
    assert 0.03 < (robust.predict(heavy) == -1).mean() < 0.1

    gaussian = rng.normal(size=(2000, 10))
    X = np.concatenate([gaussian, rng.uniform(-30, 30, size=(100, 10))])
    robust = NSigmaOutlierDetector(GaussianMixture(random_state=0)).fit(X)
    assert (robust.predict(X[2000:]) == -1).all()
    assert (robust.predict(gaussian) == -1).mean() < 0.005
    assert robust._laws.dfd[0] < 2000 - 10  # the outliers were left out


def test_merged_noise_pieces_are_not_eligible_once_trimmed():
    """Check that merged pieces of noise do not make an eligible component.

    Three 20-D clusters with 5 % uniform noise: the mixture gave the noise
    small components which, merged, passed ``min_weight`` (0.051 against
    0.05), lost a third of their samples to the trimming, and vouched for
    the noise with a vague law (3-sigma radius 32.9 instead of 7.0): 0.3 %
    of new noise was flagged.
    """
    rng = np.random.RandomState(3)
    d = 20
    means = rng.uniform(-6, 6, size=(3, d))
    factors = [
        stats.special_ortho_group.rvs(d, random_state=rng) * rng.uniform(0.4, 1.2, d)
        for _ in range(3)
    ]

    def draw(n):
        parts = zip(means, factors, strict=True)
        return np.concatenate([m + rng.normal(size=(n, d)) @ f.T for m, f in parts])

    X = draw(250)
    centre, half = (X.min(axis=0) + X.max(axis=0)) / 2, np.ptp(X, axis=0) * 0.75
    X = np.concatenate([X, rng.uniform(centre - half, centre + half, size=(40, d))])
    X_new, noise_new = draw(300), rng.uniform(centre - half, centre + half, (300, d))
    scaler = StandardScaler().fit(X)
    detector = NSigmaOutlierDetector(random_state=3).fit(scaler.transform(X))
    assert detector.eligible_components_.sum() == 3
    assert (detector.predict(scaler.transform(noise_new)) == -1).all()
    assert (detector.predict(scaler.transform(X_new)) == -1).mean() < 0.01


def test_default_detector_finds_uniform_noise_in_high_dimension():
    """Check the default ellipsoids: noise flagged, inliers at about the nominal rate.

    A BayesianGaussianMixture(10) gives the 10 % of noise components of their
    own, broad enough to cover it; the default leaves them out.
    """
    rng = np.random.RandomState(0)
    centres = rng.uniform(-6, 6, size=(3, 20))

    def draw(n_per_cluster, n_noise):
        inliers = np.concatenate(
            [c + rng.normal(size=(n_per_cluster, 20)) for c in centres]
        )
        noise = rng.uniform(-10, 10, size=(n_noise, 20))
        return np.concatenate([inliers, noise]), len(inliers)

    X, _ = draw(250, 80)
    X_new, n_in = draw(1000, 300)
    detector = NSigmaOutlierDetector(random_state=0).fit(X)
    flagged = detector.predict(X_new) == -1
    assert flagged[n_in:].mean() > 0.95
    assert flagged[:n_in].mean() < 0.01
    assert detector.n_robust_iter_ >= 1
    raw = NSigmaOutlierDetector(random_state=0, calibration="none").fit(X)
    assert not hasattr(raw, "n_robust_iter_")  # robust='auto' is None there


@pytest.mark.parametrize("offset", [0.0, 1e8])
def test_merge_components_does_not_depend_on_the_origin(offset):
    """Check that the merge test keeps its precision far from the origin."""
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(0, 1, (300, 2)), rng.normal(9, 1, (300, 2))])
    owner = np.repeat([0, 1, 2], [150, 150, 300])
    owner[:300] = np.where(X[:300, 0] > 0, 0, 1)  # the first cluster cut in two
    assert merge_components(X + offset, owner, np.arange(3)) == {0: 1}
