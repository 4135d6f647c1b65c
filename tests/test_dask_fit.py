"""EM on row-chunked Dask arrays: the same answer as the in-memory fit."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

from sklearn_nsigma import (
    NSigmaGaussianMixture,
    NSigmaOutlierDetector,
    _dask_fit,
    _dask_init,
    _dask_stats,
    fit_dask,
)

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

COVARIANCE_TYPE = ["full", "tied", "diag", "spherical"]
FITTED = ["weights_", "means_", "covariances_", "precisions_cholesky_"]
CENTRES = np.array([[0.0, 0.0, 0.0], [6.0, 1.0, -2.0], [0.0, 9.0, 3.0]])


def _blobs(n_per_component=(500, 400, 300), seed=0, shift=0.0):
    rng = np.random.RandomState(seed)
    parts = [
        rng.normal(size=(n, 3)) * (0.5 + k) + CENTRES[k]
        for k, n in enumerate(n_per_component)
    ]
    return np.concatenate(parts) + shift


@pytest.fixture(autouse=True)
def synchronous():
    """Run on the in-process scheduler unless a test picks the cluster.

    One BLAS/OpenMP thread: these small fits are faster without threads.
    """
    from threadpoolctl import threadpool_limits

    with dask.config.set(scheduler="synchronous"), threadpool_limits(1):
        yield


def _fit_both(estimator, X, chunks):
    """The in-memory fit of a clone, and the Dask fit of another clone."""
    from sklearn.base import clone

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        in_memory = clone(estimator).fit(X)
        on_dask = fit_dask(clone(estimator), da.from_array(X, chunks=(chunks, -1)))
    return in_memory, on_dask


def _assert_same_fit(on_dask, in_memory, rtol=1e-6):
    for name in FITTED:
        assert_allclose(getattr(on_dask, name), getattr(in_memory, name), rtol=rtol)
    assert_allclose(on_dask.lower_bound_, in_memory.lower_bound_, rtol=rtol)
    assert_allclose(on_dask.lower_bounds_, in_memory.lower_bounds_, rtol=rtol)
    assert on_dask.n_iter_ == in_memory.n_iter_
    assert on_dask.converged_ == in_memory.converged_
    assert np.shape(on_dask.lower_bound_) == np.shape(in_memory.lower_bound_)
    assert type(on_dask.lower_bound_) is type(in_memory.lower_bound_)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
@pytest.mark.parametrize(
    "init_params, chunks",
    [("kmeans", 300), ("random_from_data", (100, 1000, 100)), ("k-means++", 1200)],
)
def test_gaussian_mixture_same_as_in_memory(covariance_type, init_params, chunks):
    """Check GaussianMixture on Dask equals the in-memory fit, any chunking."""
    X = _blobs()
    estimator = GaussianMixture(
        3,
        covariance_type=covariance_type,
        init_params=init_params,
        n_init=2,
        random_state=0,
    )
    in_memory, on_dask = _fit_both(estimator, X, chunks)
    _assert_same_fit(on_dask, in_memory)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
@pytest.mark.parametrize("prior_type", ["dirichlet_process", "dirichlet_distribution"])
def test_bayesian_mixture_same_as_in_memory(covariance_type, prior_type):
    """Check BayesianGaussianMixture on Dask equals the in-memory fit."""
    X = _blobs()
    estimator = BayesianGaussianMixture(
        n_components=4,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        init_params="random",
        max_iter=30,
        random_state=1,
    )
    in_memory, on_dask = _fit_both(estimator, X, (350, 350, 500))
    _assert_same_fit(on_dask, in_memory)
    for name in ["weight_concentration_", "mean_precision_", "degrees_of_freedom_"]:
        assert_allclose(
            np.asarray(getattr(on_dask, name)),
            np.asarray(getattr(in_memory, name)),
            rtol=1e-6,
        )
    assert_allclose(on_dask.mean_prior_, in_memory.mean_prior_, rtol=1e-10)
    assert_allclose(on_dask.covariance_prior_, in_memory.covariance_prior_, rtol=1e-10)


def test_far_from_the_origin_same_as_in_memory():
    """Check data far from the origin keep the in-memory precision."""
    X = _blobs(shift=1e4)
    estimator = GaussianMixture(3, random_state=0, init_params="random_from_data")
    in_memory, on_dask = _fit_both(estimator, X, 250)
    _assert_same_fit(on_dask, in_memory)


def test_same_as_in_memory_on_two_workers(dask_client):
    """Check the fit on a 2-process LocalCluster equals the in-memory fit."""
    X = _blobs()
    for estimator in [
        GaussianMixture(3, covariance_type="full", max_iter=3, random_state=0),
        BayesianGaussianMixture(
            n_components=3, covariance_type="tied", max_iter=2, random_state=0
        ),
    ]:
        with dask.config.set(scheduler=dask_client):
            in_memory, on_dask = _fit_both(estimator, X, 200)
        _assert_same_fit(on_dask, in_memory)


def test_nsigma_mixture_fit_and_fit_predict_on_dask(dask_client):
    """Check NSigmaGaussianMixture.fit takes a Dask array, on 2 workers."""
    X = _blobs()
    X_dask = da.from_array(X, chunks=(300, 3))
    kwargs = dict(covariance_type="diag", max_iter=2, tol=0, random_state=0)
    in_memory = NSigmaGaussianMixture(3, **kwargs)
    with pytest.warns(ConvergenceWarning):
        expected = in_memory.fit_predict(X)
    model = NSigmaGaussianMixture(3, **kwargs)
    with dask.config.set(scheduler=dask_client), pytest.warns(ConvergenceWarning):
        labels = model.fit_predict(X_dask)
        assert isinstance(labels, da.Array)
        assert_array_equal(labels.compute(), expected)
    _assert_same_fit(model, in_memory)
    assert_allclose(
        model.ellipsoid_params_.radii, in_memory.ellipsoid_params_.radii, rtol=1e-6
    )
    assert model.n_features_in_ == 3
    assert not hasattr(model, "feature_names_in_")


def test_detector_fits_on_dask():
    """Check the detector fits its mixture on a Dask array like in memory."""
    X = _blobs()
    X_dask = da.from_array(X, chunks=(400, 3))
    estimator = GaussianMixture(3, random_state=0)
    # robust="auto" re-estimates the ellipsoids in memory only
    in_memory = NSigmaOutlierDetector(estimator, n_sigma=2.5, robust=None).fit(X)
    detector = NSigmaOutlierDetector(estimator, n_sigma=2.5).fit(X_dask)
    _assert_same_fit(detector.estimator_, in_memory.estimator_)
    assert_array_equal(detector.predict(X_dask).compute(), in_memory.predict(X))
    assert detector.n_features_in_ == 3


def test_default_detector_fits_on_dask_in_any_units():
    """Check the default detector on a Dask array: standardised where it lives.

    Features a million times apart in scale; the default mixture is fitted
    on the standardised blocks and reported in the data's units, as in
    memory (robust="auto" is None on Dask).
    """
    X = _blobs() * [1e-5, 1.0, 1e3] + [1.0, 0.0, -5e3]
    X_dask = da.from_array(X, chunks=(400, 3))
    in_memory = NSigmaOutlierDetector(robust=None, random_state=0).fit(X)
    detector = NSigmaOutlierDetector(random_state=0).fit(X_dask)
    _assert_same_fit(detector.estimator_, in_memory.estimator_)
    assert_allclose(
        detector.decision_function(X), in_memory.decision_function(X), atol=1e-8
    )
    assert_array_equal(detector.eligible_components_, in_memory.eligible_components_)


def test_default_detector_fits_discrete_features_on_dask():
    """Check the variance floor of discrete features reaches the Dask fit."""
    rng = np.random.RandomState(0)
    Z = rng.normal(size=(3000, 4)) @ (np.eye(4) + 0.5)
    X = np.clip(np.round(3 + 1.2 * Z / Z.std(axis=0)), 1, 5)  # ratings 1 to 5
    in_memory = NSigmaOutlierDetector(robust=None, random_state=0).fit(X)
    detector = NSigmaOutlierDetector(random_state=0).fit(da.from_array(X, (700, 4)))
    _assert_same_fit(detector.estimator_, in_memory.estimator_)
    variances = np.diagonal(detector.estimator_.covariances_, axis1=1, axis2=2)
    assert variances[detector.eligible_components_].min() >= 1 / 12 * (1 - 1e-6)


def test_init_parameters_warm_start_and_max_iter_zero():
    """Check means/weights/precisions_init, warm starts and max_iter=0."""
    X = _blobs()
    X_dask = da.from_array(X, chunks=(500, 3))
    given = dict(
        means_init=CENTRES + 0.5,
        weights_init=[0.2, 0.3, 0.5],
        precisions_init=np.stack([np.eye(3) * (k + 1.0) for k in range(3)]),
    )
    for params in [given, {"means_init": CENTRES + 0.5}]:
        estimator = GaussianMixture(3, random_state=0, **params)
        in_memory, on_dask = _fit_both(estimator, X, 500)
        _assert_same_fit(on_dask, in_memory)

    kwargs = dict(n_components=3, warm_start=True, max_iter=2, random_state=0)
    in_memory, on_dask = GaussianMixture(**kwargs), GaussianMixture(**kwargs)
    for _ in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            in_memory.fit(X)
            fit_dask(on_dask, X_dask)
        _assert_same_fit(on_dask, in_memory)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit_dask(GaussianMixture(3, max_iter=1), X_dask)

    in_memory, on_dask = _fit_both(
        GaussianMixture(3, max_iter=0, random_state=0), X, 500
    )
    assert on_dask.n_iter_ == 0 and on_dask.lower_bound_ == -np.inf
    for name in FITTED:
        assert_allclose(getattr(on_dask, name), getattr(in_memory, name), rtol=1e-6)


def test_verbose_output_as_in_memory(capsys):
    """Check verbose=1 prints what the in-memory fit prints."""
    X = _blobs()
    estimator = GaussianMixture(
        3, n_init=2, verbose=1, verbose_interval=2, random_state=0
    )
    estimator.fit(X)
    expected = capsys.readouterr().out
    fit_dask(estimator, da.from_array(X, chunks=(500, 3)))
    assert capsys.readouterr().out == expected
    assert "Initialization 1" in expected


def test_float32_stays_float32():
    """Check float32 data give float32 parameters close to the in-memory fit."""
    X = _blobs().astype(np.float32)
    in_memory, on_dask = _fit_both(GaussianMixture(3, random_state=0), X, 400)
    for name in FITTED:
        assert getattr(on_dask, name).dtype == np.float32
        assert_allclose(getattr(on_dask, name), getattr(in_memory, name), rtol=1e-3)


@pytest.mark.parametrize(
    "init_params", ["kmeans", "random", "random_from_data", "k-means++"]
)
def test_large_array_initialisations(monkeypatch, init_params):
    """Check the distributed initialisations (arrays above the sample size)."""
    monkeypatch.setattr(_dask_init, "INIT_SAMPLE_ROWS", 300)
    X = _blobs(seed=3)
    X_dask = da.from_array(X, chunks=(250, 3))
    initial = fit_dask(
        GaussianMixture(3, init_params=init_params, max_iter=0, random_state=0),
        X_dask,
    )
    if init_params in ("random_from_data", "k-means++"):
        # One-hot on a data row: every initial mean is a row of X.
        nearest = np.min(
            np.linalg.norm(X[:, None, :] - initial.means_[None], axis=2), axis=0
        )
        assert_allclose(nearest, 0.0, atol=1e-10)
    if init_params == "random":
        assert_allclose(initial.weights_, 1 / 3, atol=0.05)
    n_init = 1 if init_params == "kmeans" else 3
    model = fit_dask(
        GaussianMixture(3, init_params=init_params, n_init=n_init, random_state=0),
        X_dask,
    )
    order = np.argsort(model.means_[:, 1] + model.means_[:, 0])
    assert_allclose(model.means_[order], CENTRES, atol=0.3)
    assert_allclose(model.weights_[order], [5 / 12, 4 / 12, 3 / 12], atol=0.02)


def test_kmeans_sample_fallback_without_dask_ml(monkeypatch):
    """Check the k-means init falls back to a sample when dask-ml is missing."""
    import builtins

    real_import = builtins.__import__

    def no_dask_ml(name, *args, **kwargs):
        if name.startswith("dask_ml"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask_ml)
    monkeypatch.setattr(_dask_init, "INIT_SAMPLE_ROWS", 300)
    X = _blobs(seed=4)
    model = fit_dask(GaussianMixture(3, random_state=0), da.from_array(X, chunks=400))
    order = np.argsort(model.means_[:, 1] + model.means_[:, 0])
    assert_allclose(model.means_[order], CENTRES, atol=0.3)


def test_persist_option(monkeypatch):
    """Check X is persisted by default, and recomputed when asked."""
    calls = []
    original = da.Array.persist
    monkeypatch.setattr(
        da.Array, "persist", lambda self, **kw: calls.append(1) or original(self)
    )
    X_dask = da.from_array(_blobs(), chunks=(600, 3))
    fit_dask(GaussianMixture(3, random_state=0), X_dask)
    assert len(calls) == 1
    with dask.config.set({_dask_fit.PERSIST_CONFIG_KEY: False}):
        NSigmaGaussianMixture(3, random_state=0).fit(X_dask)
    fit_dask(GaussianMixture(3, random_state=0), X_dask, persist=False)
    assert len(calls) == 1


def test_pooled_statistics_equal_the_whole():
    """Check statistics pooled over pieces equal those of all the rows."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 4)) * 3 + 100
    resp = rng.dirichlet(np.ones(3), size=200)
    resp[:50, 1] = 0.0  # a component absent from the first piece
    resp[:50] /= resp[:50].sum(axis=1, keepdims=True)
    for covariance_type in COVARIANCE_TYPE:
        whole = _dask_stats._chunk_statistics(X, resp, covariance_type, True)
        pooled = _dask_stats._pool(
            [
                _dask_stats._chunk_statistics(
                    X[rows], resp[rows], covariance_type, True
                )
                for rows in (slice(0, 50), slice(50, 51), slice(51, 200))
            ],
            covariance_type,
        )
        assert_allclose(pooled.resp_sum, whole.resp_sum, rtol=1e-12)
        assert_allclose(pooled.weighted_sum, whole.weighted_sum, rtol=1e-12)
        assert_allclose(pooled.scatter, whole.scatter, rtol=1e-10)
        assert_allclose(pooled.unassigned, whole.unassigned, atol=1e-8)


@pytest.mark.parametrize(
    "make_bad, error, match",
    [
        (lambda X: X.rechunk((600, 1)), ValueError, r"rechunk\(\{1: -1\}\)"),
        (lambda X: X[:, 0], ValueError, "2D"),
        (lambda X: X[:2], ValueError, "n_samples >= n_components"),
        (lambda X: X.astype(str), TypeError, "real numbers"),
        (lambda X: da.where(X > 8, np.nan, X), ValueError, "NaN"),
    ],
)
def test_bad_input_leaves_the_estimator_unchanged(make_bad, error, match):
    """Check bad data raise a clear error and leave a fitted mixture as it was."""
    X_dask = da.from_array(_blobs(), chunks=(600, 3))
    model = NSigmaGaussianMixture(3, random_state=0).fit(X_dask)
    before = {name: np.copy(getattr(model, name)) for name in FITTED}
    with pytest.raises(error, match=match):
        model.fit(make_bad(X_dask))
    for name in FITTED:
        assert_array_equal(getattr(model, name), before[name])


def test_not_a_mixture_is_refused():
    """Check fit_dask refuses an estimator that is not a Gaussian mixture."""
    from sklearn.cluster import KMeans

    with pytest.raises(TypeError, match="GaussianMixture"):
        fit_dask(KMeans(2), da.zeros((10, 2), chunks=5))
    with pytest.raises(ValueError, match="n_components"):
        fit_dask(GaussianMixture(n_components=0), da.zeros((10, 2), chunks=5))


def test_nsigma_bayesian_mixture_fits_a_dask_array():
    """Check NSigmaBayesianGaussianMixture.fit takes a Dask array, as in memory."""
    from sklearn_nsigma import NSigmaBayesianGaussianMixture

    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (600, 3)), rng.normal(6, 1, (600, 3))]
    params = dict(n_components=3, init_params="random_from_data", max_iter=20)
    in_memory = NSigmaBayesianGaussianMixture(random_state=0, **params).fit(X)
    with dask.config.set(scheduler="synchronous"):
        on_dask = NSigmaBayesianGaussianMixture(random_state=0, **params).fit(
            da.from_array(X, chunks=(250, 3))
        )
    assert on_dask.n_iter_ == in_memory.n_iter_
    assert_allclose(on_dask.means_, in_memory.means_, rtol=1e-6, atol=1e-9)
    assert_allclose(on_dask.lower_bound_, in_memory.lower_bound_, rtol=1e-6)
    assert_allclose(
        on_dask.ellipsoid_params_.radii, in_memory.ellipsoid_params_.radii, rtol=1e-6
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
@pytest.mark.parametrize("bayesian", [False, True])
def test_fused_block_statistics_equal_the_e_step(covariance_type, bayesian):
    """Check a block's statistics from the fused E-step equal the E-step's."""
    from sklearn_nsigma import NSigmaBayesianGaussianMixture

    X = _blobs(shift=50.0)
    cls = NSigmaBayesianGaussianMixture if bayesian else NSigmaGaussianMixture
    model = cls(
        n_components=3, covariance_type=covariance_type, max_iter=3, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    options = (3, False, False, bayesian)
    fused = _dask_stats._fused_statistics(X, model, covariance_type, bayesian)
    assert fused is not None
    generic = _dask_stats._block_statistics(
        X, _dask_stats._EStep(model, bayesian), covariance_type, options
    )
    assert_allclose(fused.resp_sum, generic.resp_sum, rtol=1e-10)
    assert_allclose(fused.weighted_sum, generic.weighted_sum, rtol=1e-10)
    assert_allclose(fused.scatter, generic.scatter, rtol=1e-8)
    assert_allclose(fused.log_prob_norm_sum, generic.log_prob_norm_sum, rtol=1e-12)
    assert_allclose(fused.resp_log_resp_sum, generic.resp_log_resp_sum, rtol=1e-8)
    assert fused.unassigned is None
    assert (fused.resp_log_resp_sum != 0.0) == bayesian


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPE)
def test_nsigma_mixture_same_as_in_memory(covariance_type):
    """Check NSigmaGaussianMixture (fused E-step) on Dask equals in memory."""
    estimator = NSigmaGaussianMixture(
        3, covariance_type=covariance_type, n_init=2, random_state=0
    )
    in_memory, on_dask = _fit_both(estimator, _blobs(shift=100.0), (700, 500))
    _assert_same_fit(on_dask, in_memory)
