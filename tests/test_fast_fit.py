"""The kernel EM of both mixtures against scikit-learn's own EM."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture
from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters
from threadpoolctl import threadpool_limits

from sklearn_nsigma import (
    NSigmaBayesianGaussianMixture,
    NSigmaGaussianMixture,
    NSigmaOutlierDetector,
    _em_moments,
)
from sklearn_nsigma._distance import compiled_kernel_available, use_compiled_kernel

COVARIANCE_TYPE = ["full", "tied", "diag", "spherical"]
FITTED = ("weights_", "means_", "covariances_", "precisions_cholesky_")
PAIRS = {
    "gmm": (GaussianMixture, NSigmaGaussianMixture, {}),
    "dpgmm": (BayesianGaussianMixture, NSigmaBayesianGaussianMixture, {}),
    "vbgmm": (
        BayesianGaussianMixture,
        NSigmaBayesianGaussianMixture,
        {"weight_concentration_prior_type": "dirichlet_distribution"},
    ),
}
DOC = Path(__file__).parents[1] / "doc" / "user_guide" / "fitting.rst"


def blobs(n_samples=450, n_features=3, offset=0.0, seed=0):
    """Three elongated Gaussian clusters, shifted by ``offset``."""
    rng = np.random.RandomState(seed)
    parts = []
    for k in range(3):
        mixing = rng.normal(size=(n_features, n_features))
        center = 4.0 * k * np.ones(n_features)
        parts.append(rng.normal(size=(n_samples // 3, n_features)) @ mixing + center)
    return np.concatenate(parts) + offset


def fit_pair(kind, X, **params):
    parent_cls, ours_cls, extra = PAIRS[kind]
    params = {"random_state": 0, **extra, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return parent_cls(**params).fit(X), ours_cls(**params).fit(X)


def assert_same_fit(parent, ours, rtol=1e-6):
    """Fitted parameters, lower bound and iterations equal to ``rtol``."""
    assert ours.n_iter_ == parent.n_iter_
    assert ours.converged_ == parent.converged_
    assert_allclose(ours.lower_bound_, parent.lower_bound_, rtol=rtol)
    for name in FITTED:
        expected = getattr(parent, name)
        # relative to the attribute's scale: entries near 0 differ by rounding
        atol = rtol * np.max(np.abs(expected))
        assert_allclose(getattr(ours, name), expected, rtol=rtol, atol=atol)
        assert getattr(ours, name).dtype == expected.dtype


@pytest.mark.parametrize("kind", sorted(PAIRS))
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
@pytest.mark.parametrize("offset", [0.0, 100.0])
def test_fit_matches_parent(kind, covariance_type, offset):
    """Check that fitting gives the parent's parameters, bound and n_iter_."""
    X = blobs(offset=offset)
    parent, ours = fit_pair(kind, X, n_components=3, covariance_type=covariance_type)
    assert_same_fit(parent, ours)
    assert_array_equal_labels(parent, ours, X)


@pytest.mark.parametrize("kind", sorted(PAIRS))
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
@pytest.mark.parametrize("init_params", ["random_from_data", "k-means++"])
def test_initialisations_match_parent(kind, covariance_type, init_params):
    """Check initial responsibilities whose rows do not all sum to 1.

    ``random_from_data`` and ``k-means++`` give one sample per component:
    the parent's tied covariance of such responsibilities depends on the
    origin, which the offset of 100 makes visible.
    """
    X = blobs(offset=100.0)
    parent, ours = fit_pair(
        kind,
        X,
        n_components=3,
        covariance_type=covariance_type,
        init_params=init_params,
        max_iter=3,
    )
    assert_same_fit(parent, ours)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bayesian_default_priors_equal_parent(covariance_type, dtype, monkeypatch):
    """Check the default mean and covariance priors, over several chunks."""
    monkeypatch.setattr(_em_moments, "_CHUNK_BYTES", 256)
    X = blobs(n_samples=4500, offset=10.0).astype(dtype)
    parent, ours = fit_pair(
        "dpgmm", X, n_components=3, covariance_type=covariance_type, max_iter=1
    )
    for name in ("mean_prior_", "covariance_prior_"):
        expected = np.asarray(getattr(parent, name))
        assert np.asarray(getattr(ours, name)).dtype == expected.dtype
        rtol = 1e-5 if dtype == np.float32 else 1e-12
        assert_allclose(getattr(ours, name), expected, rtol=rtol)


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_n_init_matches_parent(kind):
    """Check that n_init > 1 keeps the parent's best initialisation.

    Few iterations from random starts keep the lower bounds of the starts
    apart: starts that reach the same optimum tie up to rounding, and either
    may then win.
    """
    X = blobs()
    parent, ours = fit_pair(
        kind, X, n_components=3, n_init=3, max_iter=4, init_params="random"
    )
    assert_same_fit(parent, ours)


def assert_array_equal_labels(parent, ours, X):
    np.testing.assert_array_equal(ours.predict(X), parent.predict(X))


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_fit_far_from_origin_matches_parent(kind):
    """Check full covariances 1e4 from the origin (the parent centres too)."""
    X = blobs(offset=1e4)
    parent, ours = fit_pair(kind, X, n_components=3, covariance_type="full")
    assert_same_fit(parent, ours)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
def test_m_step_is_translation_invariant(covariance_type):
    """Check the M-step's covariances 1e6 from the origin, to 1e-6.

    scikit-learn's own tied, diag and spherical estimates subtract
    uncentred second moments, which loses about 12 digits here; the kernel
    M-step centres its sums.
    """
    X = blobs()
    resp = np.random.RandomState(0).dirichlet(np.ones(3), size=X.shape[0])
    expected = _estimate_gaussian_parameters(X, resp, 1e-6, covariance_type)
    stats = _em_moments.gaussian_statistics(X + 1e6, resp, covariance_type, log=False)
    nk, means, covariances = _em_moments.estimate_gaussian_parameters(
        stats, resp.dtype, X.dtype, 1e-6, covariance_type
    )
    assert_allclose(nk, expected[0], rtol=1e-12)
    assert_allclose(means - 1e6, expected[1], atol=1e-8)
    assert_allclose(covariances, expected[2], rtol=1e-6)


@pytest.mark.parametrize("kind", sorted(PAIRS))
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_near_singular_component_matches_parent(kind, covariance_type):
    """Check a component whose samples nearly lie on a plane."""
    X = blobs()
    X[:150, 2] = 1e-4 * np.random.RandomState(1).normal(size=150)
    parent, ours = fit_pair(
        kind, X, n_components=3, covariance_type=covariance_type, reg_covar=1e-9
    )
    assert_same_fit(parent, ours)


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_warm_start_matches_parent(kind):
    """Check that successive warm-started fits follow the parent's."""
    X = blobs()
    parent, ours = fit_pair(kind, X, n_components=3, max_iter=2, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(2):
            parent.fit(X)
            ours.fit(X)
            assert_same_fit(parent, ours)


@pytest.mark.parametrize("kind", sorted(PAIRS))
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
def test_float32_keeps_the_parent_dtypes(kind, covariance_type):
    """Check float32 input: the parent's dtypes, values to float32 accuracy."""
    X = blobs().astype(np.float32)
    parent, ours = fit_pair(
        kind, X, n_components=3, covariance_type=covariance_type, max_iter=5
    )
    assert ours.n_iter_ == parent.n_iter_
    for name in FITTED:
        expected = getattr(parent, name)
        assert getattr(ours, name).dtype == expected.dtype
        assert_allclose(
            getattr(ours, name),
            expected,
            rtol=1e-3,
            atol=1e-3 * np.max(np.abs(expected)),
        )
    assert ours.predict_proba(X).dtype == parent.predict_proba(X).dtype


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_scoring_methods_match_parent(kind):
    """Check predict, predict_proba, score_samples, score, bic and aic."""
    X = blobs()
    parent, ours = fit_pair(kind, X, n_components=3)
    # an outlier far enough that every exp(log-probability) underflows
    Y = np.concatenate([X[:50], [[1e4, -1e4, 1e4]]])
    assert_allclose(ours.predict_proba(Y), parent.predict_proba(Y), atol=1e-9)
    assert_allclose(ours.score_samples(Y), parent.score_samples(Y), rtol=1e-9)
    assert np.isfinite(ours.score_samples(Y)).all()
    assert_allclose(ours.score(Y), parent.score(Y), rtol=1e-9)
    np.testing.assert_array_equal(ours.predict(Y), parent.predict(Y))
    if kind == "gmm":
        assert_allclose(ours.bic(X), parent.bic(X), rtol=1e-9)
        assert_allclose(ours.aic(X), parent.aic(X), rtol=1e-9)


@pytest.mark.parametrize("kind", sorted(PAIRS))
@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_threads_and_chunks_give_the_same_fit(kind, covariance_type, monkeypatch):
    """Check many small chunks over one and two threads against the parent.

    The sums of every chunk are combined in the order of the chunks, so one
    and two threads give the same fit to the last bit.
    """
    monkeypatch.setattr(_em_moments, "_MIN_ROWS", 16)
    monkeypatch.setattr(_em_moments, "_MAX_ROWS", 64)
    monkeypatch.setattr(_em_moments, "_COMPILED_ROWS", 64)
    X = blobs(n_samples=600)
    fits = []
    for threads in (1, 2):
        with threadpool_limits(threads):
            fits.append(
                fit_pair(kind, X, n_components=3, covariance_type=covariance_type)
            )
    for parent, ours in fits:
        assert_same_fit(parent, ours)
    assert_same_fit(fits[0][1], fits[1][1], rtol=0)


@pytest.mark.skipif(not compiled_kernel_available(), reason="no compiled kernel")
@pytest.mark.parametrize("kind", ["gmm", "dpgmm"])
def test_numpy_kernel_gives_the_same_fit(kind):
    """Check the EM on the NumPy distance kernel against the parent."""
    X = blobs()
    with use_compiled_kernel(False):
        parent, ours = fit_pair(kind, X, n_components=3)
    assert_same_fit(parent, ours)


@pytest.mark.parametrize("kind", ["gmm", "dpgmm"])
def test_m_step_without_the_e_step_sums(kind):
    """Check an M-step on log-responsibilities the E-step did not produce."""
    X = blobs()
    _, ours = fit_pair(kind, X, n_components=3, max_iter=3)
    _, log_resp = ours._e_step(X)
    ours._m_step(X, log_resp)
    expected = [np.copy(getattr(ours, name)) for name in FITTED]
    _, ours_again = fit_pair(kind, X, n_components=3, max_iter=3)
    ours_again._m_step(X, ours_again._e_step(X)[1].copy())
    for name, value in zip(FITTED, expected, strict=True):
        assert_allclose(getattr(ours_again, name), value, rtol=1e-12)
    assert "_em_pending" not in vars(ours)


def test_fit_leaves_no_cached_arrays():
    """Check that fit_predict drops the sums it kept between the steps."""
    X = blobs()
    gmm = NSigmaBayesianGaussianMixture(n_components=3, random_state=0).fit(X)
    cached = {"_em_fitting", "_em_pending", "_resp_entropy", "_em_center"}
    assert not cached & set(vars(gmm))


def test_bayesian_mixture_has_the_nsigma_methods():
    """Check mahalanobis, predict_within and ellipsoid_params_ on the VB fit."""
    X = blobs(n_features=2)
    bgm = NSigmaBayesianGaussianMixture(n_components=3, random_state=0).fit(X)
    distances = bgm.mahalanobis(bgm.means_)
    assert_allclose(np.diag(distances), 0.0, atol=1e-6)
    radii = bgm.ellipsoid_params_.radii
    covariances = bgm.covariances_
    assert_allclose(radii**2, np.sort(np.linalg.eigvalsh(covariances))[:, ::-1])
    point = bgm.means_[0] + 2.5 * radii[0, 0] * bgm.ellipsoid_params_.rotations[0][:, 0]
    assert_allclose(bgm.mahalanobis(point[np.newaxis])[0, 0], 2.5, rtol=1e-6)
    assert bgm.predict_within(point[np.newaxis], n_sigma=[2.6, 0.1, 0.1])[0]
    assert not bgm.predict_within(point[np.newaxis], n_sigma=[2.4, 0.1, 0.1])[0]


def test_detector_default_is_the_nsigma_bayesian_mixture():
    """Check that the detector's default mixture is NSigmaBayesianGaussianMixture."""
    X = blobs()
    detector = NSigmaOutlierDetector(random_state=0).fit(X)
    assert type(detector.estimator_) is NSigmaBayesianGaussianMixture
    assert detector.estimator_.n_components == 10


def _python_blocks(text):
    pattern = re.compile(r"\.\. code-block:: python\n\n((?:(?: {4}.*)?\n)+)")
    for match in pattern.finditer(text):
        lines = match.group(1).splitlines()
        yield "\n".join(line[4:] for line in lines)


def test_fitting_guide_code_blocks_run():
    """Check that every Python block of doc/user_guide/fitting.rst runs."""
    blocks = list(_python_blocks(DOC.read_text()))
    assert blocks
    namespace = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
