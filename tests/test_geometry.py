"""Property tests of the ellipsoid geometry and the distance kernel."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_nsigma import EllipsoidParams, ellipsoid_params
from sklearn_nsigma._distance import MahalanobisKernel

finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False)


@st.composite
def gaussians(draw, max_features=6, max_components=3):
    """Means, SPD covariances and their precision Cholesky factors."""
    d = draw(st.integers(1, max_features))
    k = draw(st.integers(1, max_components))
    A = draw(arrays(np.float64, (k, d, d), elements=finite))
    log_scales = draw(arrays(np.float64, (k, d), elements=st.floats(-3, 3)))
    covariances = A @ A.transpose(0, 2, 1) + np.eye(d) * 0.1
    covariances *= np.exp(log_scales[:, :, None] + log_scales[:, None, :]) / 2
    means = draw(arrays(np.float64, (k, d), elements=st.floats(-100, 100)))
    return means, covariances, precision_factors(covariances)


def precision_factors(covariances):
    """L with L @ L.T == inv(S), as GaussianMixture's precisions_cholesky_."""
    cholesky = np.linalg.cholesky(covariances)
    eye = np.broadcast_to(np.eye(covariances.shape[-1]), covariances.shape)
    return np.linalg.solve(cholesky, eye).transpose(0, 2, 1)


def naive_squared(X, means, covariances):
    diff = X[:, None, :] - means[None]
    return np.einsum("nkd,kde,nke->nk", diff, np.linalg.inv(covariances), diff)


@settings(max_examples=60, deadline=None)
@given(gaussians(), st.floats(0.1, 5))
def test_axis_points_lie_at_distance_n(gaussian, n_sigma):
    """Check mean + n * r_j * v_j is at Mahalanobis distance exactly n."""
    means, covariances, factors = gaussian
    params = ellipsoid_params(means, covariances, "full")
    kernel = MahalanobisKernel(means, factors, "full", "float64")
    points = params.axis_points(n_sigma)
    for k in range(means.shape[0]):
        distances = np.sqrt(kernel.squared(points[k])[:, k])
        assert_allclose(distances, n_sigma, rtol=1e-7)


@settings(max_examples=60, deadline=None)
@given(gaussians())
def test_rotations_are_proper_and_reproduce_covariances(gaussian):
    """Check orthonormal rotations with det +1, sorted radii, R D R^T == S."""
    means, covariances, _ = gaussian
    params = ellipsoid_params(means, covariances, "full")
    d = means.shape[1]
    R = params.rotations
    assert_allclose(
        R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(d), R.shape), atol=1e-10
    )
    assert_allclose(np.linalg.det(R), 1.0, rtol=1e-10)
    assert np.all(np.diff(params.radii, axis=1) <= 0)
    scale = np.abs(covariances).max(axis=(1, 2), keepdims=True)
    assert_allclose(params.covariances() / scale, covariances / scale, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(gaussians())
def test_sign_convention_is_deterministic(gaussian):
    """Check that flipping eigenvector signs in the input gives the same output."""
    means, covariances, factors = gaussian
    a = ellipsoid_params(means, covariances, "full")
    b = ellipsoid_params(means, precisions_cholesky=factors, covariance_type="full")
    # same axes up to numerical noise, whichever route computed them
    gaps = np.abs(np.diff(a.radii, axis=1)) / a.radii[:, :1]
    if np.all(gaps > 1e-3):  # distinct radii: axes are unique up to sign
        assert_allclose(a.rotations, b.rotations, atol=1e-6)
    for k in range(means.shape[0]):
        R = np.abs(a.rotations[k][:, :-1])
        first_largest = np.argmax(R >= (1 - 1e-6) * R.max(axis=0), axis=0)
        signs = a.rotations[k][first_largest, np.arange(R.shape[1])]
        assert np.all(signs > 0)


@settings(max_examples=50, deadline=None)
@given(gaussians(), st.floats(0.1, 3), st.floats(0.1, 3), st.integers(0, 2**32 - 1))
def test_predict_within_is_monotone_in_n_sigma(gaussian, n1, n2, seed):
    """Check that inside at the smaller radius implies inside at the larger."""
    means, covariances, factors = gaussian
    small, large = sorted((n1, n2))
    rng = np.random.RandomState(seed)
    X = means[0] + rng.normal(size=(200, means.shape[1])) * 3 * np.sqrt(
        np.diag(covariances[0])
    )
    kernel = MahalanobisKernel(means, factors, "full", "float64")
    k = means.shape[0]
    inside_small = kernel.within(X, np.full(k, small**2))
    inside_large = kernel.within(X, np.full(k, large**2))
    assert np.all(inside_large[inside_small])
    distances = np.sqrt(naive_squared(X, means, covariances))
    # agreement with the distances, away from float ties at the boundary
    clear = np.all(np.abs(distances - large) > 1e-9 * large, axis=1)
    assert_array_equal(inside_large[clear], (distances <= large).any(axis=1)[clear])


@settings(max_examples=50, deadline=None)
@given(
    gaussians(max_components=2),
    arrays(np.float64, (6, 6), elements=finite),
    arrays(np.float64, 6, elements=st.floats(-1e3, 1e3)),
    st.integers(0, 2**32 - 1),
)
def test_membership_is_affine_invariant(gaussian, A, b, seed):
    """Check that moving data and model by one affine map keeps membership."""
    means, covariances, _ = gaussian
    d = means.shape[1]
    A = A[:d, :d] / 3 + (d + 1) * np.eye(d)  # diagonally dominant: invertible
    b = b[:d]
    rng = np.random.RandomState(seed)
    X = means[0] + rng.normal(size=(300, d)) * 2 * np.sqrt(np.diag(covariances[0]))
    before = MahalanobisKernel(means, precision_factors(covariances), "full", "float64")
    moved_cov = A @ covariances @ A.T
    after = MahalanobisKernel(
        means @ A.T + b, precision_factors(moved_cov), "full", "float64"
    )
    squared_before = before.squared(X)
    squared_after = after.squared(X @ A.T + b)
    assert_allclose(squared_after, squared_before, rtol=1e-6, atol=1e-9)
    k = means.shape[0]
    thresholds = np.full(k, 4.0)
    clear = np.all(np.abs(squared_before - 4.0) > 1e-5, axis=1)
    assert_array_equal(
        after.within(X @ A.T + b, thresholds)[clear],
        before.within(X, thresholds)[clear],
    )


@settings(max_examples=40, deadline=None)
@given(gaussians(max_features=4), st.integers(0, 2**32 - 1))
def test_equivalent_models_agree_across_covariance_types(gaussian, seed):
    """Check diag/spherical/tied layouts give the same answers as 'full'."""
    means, covariances, _ = gaussian
    k, d = means.shape
    variances = np.abs(np.diagonal(covariances, axis1=1, axis2=2)) + 0.1
    rng = np.random.RandomState(seed)
    X = means.mean(0) + rng.normal(size=(100, d)) * 5
    cases = {
        "diag": (variances, 1 / np.sqrt(variances)),
        "spherical": (variances[:, 0], 1 / np.sqrt(variances[:, 0])),
        "tied": (covariances[0], precision_factors(covariances[:1])[0]),
    }
    for covariance_type, (layout_cov, layout_factor) in cases.items():
        if covariance_type == "diag":
            full = np.stack([np.diag(v) for v in variances])
        elif covariance_type == "spherical":
            full = np.stack([np.eye(d) * v for v in variances[:, 0]])
        else:
            full = np.stack([covariances[0]] * k)
        kernel = MahalanobisKernel(means, layout_factor, covariance_type, "float64")
        reference = MahalanobisKernel(means, precision_factors(full), "full", "float64")
        assert_allclose(kernel.squared(X), reference.squared(X), rtol=1e-8)
        params = ellipsoid_params(means, layout_cov, covariance_type)
        # R diag(r^2) R^T rebuilds zeros to rounding of the largest entry
        assert_allclose(
            params.covariances(), full, rtol=1e-10, atol=1e-14 * np.abs(full).max()
        )
        assert_allclose(
            params.radii, ellipsoid_params(means, full, "full").radii, rtol=1e-8
        )


@settings(max_examples=30, deadline=None)
@given(gaussians())
def test_float32_in_float32_out(gaussian):
    """Check that float32 data are computed in float32 with float32 accuracy."""
    means, covariances, factors = gaussian
    kernel = MahalanobisKernel(means, factors, "full", "float32")
    X = (means[:1] + np.sqrt(np.diag(covariances[0]))).astype(np.float32)
    squared = kernel.squared(X)
    assert squared.dtype == np.float32
    reference = naive_squared(X.astype(np.float64), means, covariances)
    assert_allclose(squared, reference, rtol=2e-3, atol=1e-3 * reference.max())


def test_chunks_cover_every_row(monkeypatch):
    """Check results do not depend on the chunk size."""
    import sklearn_nsigma._distance as distance

    rng = np.random.RandomState(0)
    means = rng.normal(size=(3, 4))
    covariances = np.stack([np.eye(4) * s for s in (1.0, 2.0, 3.0)])
    X = rng.normal(size=(1000, 4))
    kernel = MahalanobisKernel(means, precision_factors(covariances), "full", "float64")
    whole = kernel.squared(X)
    monkeypatch.setattr(distance, "_CHUNK_BYTES", 1)  # 16-row chunks
    assert kernel.chunk_rows(1000) == distance._MIN_CHUNK_ROWS
    assert_array_equal(kernel.squared(X), whole)
    assert_array_equal(kernel.within(X, np.full(3, 4.0)), (whole <= 4).any(axis=1))
    assert_allclose(
        kernel.min_scaled(X, [1, np.inf, 0.5]),
        np.minimum(whole[:, 0], whole[:, 2] * 0.5),
    )


def test_ellipsoid_params_of_diagonal_covariances_sort_axes():
    """Check that diag covariances give coordinate axes sorted by variance."""
    params = ellipsoid_params(np.zeros((1, 3)), np.array([[1.0, 9.0, 4.0]]), "diag")
    assert_allclose(params.radii, [[3.0, 2.0, 1.0]])
    assert_allclose(np.abs(params.rotations[0]), [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert_allclose(np.linalg.det(params.rotations), 1.0)
    assert isinstance(params, EllipsoidParams)


def test_ellipsoid_params_errors():
    """Check the clear errors of ellipsoid_params."""
    with pytest.raises(ValueError, match="covariance_type"):
        ellipsoid_params(np.zeros((1, 2)), np.eye(2)[None], "bogus")
    with pytest.raises(ValueError, match="precisions_cholesky"):
        ellipsoid_params(np.zeros((1, 2)))


_THREADS_SCRIPT = """
from concurrent import futures

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
from threadpoolctl import threadpool_limits

import sklearn_nsigma._distance as distance
import sklearn_nsigma._kernel_backend as backend
from sklearn_nsigma._distance import MahalanobisKernel

rng = np.random.RandomState(0)
means = rng.normal(size=(4, 5))
factors = np.stack([np.eye(5) / np.sqrt(s) for s in (1.0, 2.0, 3.0, 4.0)])
kernel = MahalanobisKernel(means, factors, "full", "float64")
X = rng.normal(size=(3000, 5))
distance._CHUNK_BYTES = 4096  # many chunks
workers = []
real_executor = futures.ThreadPoolExecutor


def recording_executor(max_workers):
    workers.append(max_workers)
    return real_executor(max_workers)


# the NumPy kernel's threads, and the compiled kernel's
distance.ThreadPoolExecutor = backend.ThreadPoolExecutor = recording_executor
with threadpool_limits(limits=1, user_api="blas"):
    one_thread = kernel.squared(X)
    one_within = kernel.within(X, np.full(4, 4.0))
assert workers == [], workers
with threadpool_limits(limits=2, user_api="blas"):
    two_threads = kernel.squared(X)
    two_within = kernel.within(X, np.full(4, 4.0))
    two_min = kernel.min_scaled(X, [1.0, 0.5, np.inf, 2.0])
assert workers == [2, 2, 2], workers
assert_array_equal(two_threads, one_thread)
assert_array_equal(two_within, one_within)
assert_allclose(two_min, np.min(one_thread[:, [0, 1, 3]] * [1.0, 0.5, 2.0], axis=1))
"""


def test_threads_follow_threadpoolctl_and_agree():
    """Check the thread count follows threadpool_limits and results agree.

    In a fresh process: the BLAS thread limit is process-wide, and other
    libraries' threaded code (dask-ml's k-means, say) can leave it changed.
    """
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", _THREADS_SCRIPT], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_concurrent_calls_restore_the_blas_limit():
    """Check overlapping threaded calls leave the BLAS thread limit as it was."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_limits():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    rng = np.random.RandomState(0)
    means = rng.normal(size=(4, 3))
    covariances = np.stack([np.eye(3)] * 4)
    kernel = MahalanobisKernel(means, precision_factors(covariances), "full", "float64")
    X = rng.normal(size=(60_000, 3))  # about 10 chunks: threaded
    thresholds = np.full(4, 4.0)
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_limits()
        expected = kernel.within(X, thresholds)
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: kernel.within(X, thresholds), range(120)))
        assert blas_limits() == before
    for result in results:
        assert_array_equal(result, expected)


@pytest.mark.parametrize(
    "means, covariances, covariance_type, match",
    [
        (np.zeros((3, 2)), np.stack([np.eye(2)] * 2), "full", r"shape \(3, 2, 2\)"),
        (np.zeros(2), np.eye(2)[None], "full", "means must be"),
        (np.zeros((1, 2)), np.eye(2), "full", r"shape \(1, 2, 2\)"),
        (np.zeros((1, 2)), np.full((1, 2, 2), np.nan), "full", "finite"),
        (
            np.zeros((2, 2)),
            np.array([[1.0, -1.0], [1.0, 1.0]]),
            "diag",
            r"Component\(s\) \[0\].*negative",
        ),
        (
            np.zeros((1, 2)),
            np.array([[[1.0, 2.0], [2.0, 1.0]]]),
            "full",
            r"Component\(s\) \[0\].*negative",
        ),
        (np.zeros((2, 2)), np.array([1.0, 2.0, 3.0]), "spherical", r"shape \(2,\)"),
    ],
)
def test_ellipsoid_params_refuses_inconsistent_input(
    means, covariances, covariance_type, match
):
    """Check shapes, finiteness and negative variances are refused clearly."""
    with pytest.raises(ValueError, match=match):
        ellipsoid_params(means, covariances, covariance_type)


@pytest.mark.parametrize(
    "n_sigma, error", [(0.0, ValueError), (np.inf, ValueError), (True, TypeError)]
)
def test_axis_points_refuse_a_bad_n_sigma(n_sigma, error):
    """Check axis_points validates n_sigma like every other n_sigma."""
    params = ellipsoid_params(np.zeros((1, 2)), np.eye(2)[np.newaxis], "full")
    with pytest.raises(error, match="n_sigma must be a positive finite number"):
        params.axis_points(n_sigma)
