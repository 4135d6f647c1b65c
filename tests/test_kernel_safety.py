"""No silent wrong answers from the distance kernels, and no unsafe memory use.

Regression tests for inputs that once gave wrong distances without any error
(float32 data far from the origin, an ``out`` overlapping ``X``, ``X`` of
another width than the model), for the checks of the compiled kernel's entry
point (sizes that overflow, misaligned and byte-swapped buffers), and a fuzz
comparison of both kernels over shapes, layouts and every instruction set.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import sklearn_nsigma._distance as distance
from sklearn_nsigma import NSigmaGaussianMixture
from sklearn_nsigma._distance import MahalanobisKernel, use_compiled_kernel

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
INSTRUCTION_SETS = (
    distance._ckernel.supported_instruction_sets() if distance._ckernel else []
)
KERNELS = [pytest.param(None, id="numpy")] + [
    pytest.param(isa, id=f"compiled-{isa}") for isa in INSTRUCTION_SETS
]
requires_compiled = pytest.mark.skipif(
    distance._ckernel is None, reason="the compiled kernel is not built"
)


def selected(implementation):
    """The ``use_compiled_kernel`` block for a value of ``KERNELS``."""
    return use_compiled_kernel(implementation is not None, implementation)


def random_model(rng, n_components, n_features, covariance_type, dense=False):
    """Means and precision factors in GaussianMixture's layout, and precisions."""
    means = rng.uniform(-5, 5, size=(n_components, n_features))
    if covariance_type in ("full", "tied"):
        count = 1 if covariance_type == "tied" else n_components
        A = rng.normal(size=(count, n_features, n_features))
        covariances = A @ A.transpose(0, 2, 1) + 0.5 * np.eye(n_features)
        cholesky = np.linalg.cholesky(covariances)
        eye = np.broadcast_to(np.eye(n_features), covariances.shape)
        factors = np.linalg.solve(cholesky, eye).transpose(0, 2, 1)
        if dense:  # any L with L @ L.T = precision, here not triangular
            Q, _ = np.linalg.qr(rng.normal(size=(n_features, n_features)))
            factors = factors @ Q
        precisions = factors @ factors.transpose(0, 2, 1)
        if covariance_type == "tied":
            factors, precisions = factors[0], np.repeat(precisions, n_components, 0)
    elif covariance_type == "diag":
        factors = rng.uniform(0.2, 3, size=(n_components, n_features))
        precisions = np.stack([np.diag(f**2) for f in factors])
    else:
        factors = rng.uniform(0.2, 3, size=n_components)
        precisions = np.stack([np.eye(n_features) * f**2 for f in factors])
    return means, factors, precisions


def textbook_squared(X, means, precisions):
    """Squared Mahalanobis distances in float64, straight from the formula."""
    X = np.asarray(X, dtype=np.float64)
    return np.stack(
        [
            np.einsum("ij,jk,ik->i", X - mean, precision, X - mean)
            for mean, precision in zip(means, precisions, strict=True)
        ],
        axis=1,
    )


# -- float32 data far from the origin -------------------------------------
def test_float32_far_from_the_origin_reproducer():
    """Check the issue's example: float32 input gives float64's distances.

    X is centred on the float32-rounded centre; the mean offsets once came
    from the unrounded one, so its rounding error (3 at 1e8) showed up in
    sigmas (4.35 sigma off).
    """
    X = 1e8 + 3 + np.random.RandomState(0).normal(size=(1000, 2))
    model = NSigmaGaussianMixture(random_state=0).fit(X)
    X32 = X.astype(np.float32)
    for implementation in [None, *INSTRUCTION_SETS]:
        with selected(implementation):
            single = model.mahalanobis(X32)
            double = model.mahalanobis(X32.astype(np.float64))
        assert single.dtype == np.float32
        assert_allclose(single, double, rtol=0, atol=1e-3, err_msg=implementation)


def test_float32_far_from_the_origin_predict_within():
    """Check no membership flips at an offset of 1e7 with two components."""
    rng = np.random.RandomState(0)
    X = (
        1e7
        + 0.3
        + np.concatenate([rng.normal(size=(500, 2)), rng.normal(4, 1, size=(500, 2))])
    )
    model = NSigmaGaussianMixture(n_components=2, random_state=0).fit(X)
    X32 = X.astype(np.float32)
    for implementation in [None, *INSTRUCTION_SETS]:
        with selected(implementation):
            single = model.mahalanobis(X32)
            double = model.mahalanobis(X32.astype(np.float64))
            within = model.predict_within(X32, n_sigma=2)
            expected = model.predict_within(X32.astype(np.float64), n_sigma=2)
        assert_allclose(single, double, rtol=0, atol=1e-3, err_msg=implementation)
        # no sample lies within 1e-3 sigma of the threshold here
        assert not (np.abs(double.min(axis=1) - 2) < 1e-3).any()
        assert_array_equal(within, expected, err_msg=implementation)


@pytest.mark.parametrize("implementation", KERNELS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("offset", [1e8 + 3, -3e6 - 0.1])
def test_float32_far_from_the_origin_every_width(
    implementation, covariance_type, offset
):
    """Check float32 matches float64 arithmetic on the same float32 values.

    For d = 1 .. 16 (each a tile function of its own in the compiled kernel),
    every covariance type, with a centre that float32 cannot represent.
    """
    for n_features in range(1, 17):
        rng = np.random.RandomState(n_features)
        means, factors, precisions = random_model(rng, 3, n_features, covariance_type)
        means += offset - means.mean(axis=0)  # the centre is `offset` exactly
        X = means[rng.randint(3, size=37)] + 2 * rng.normal(size=(37, n_features))
        X32 = X.astype(np.float32)
        expected = np.sqrt(textbook_squared(X32, means, precisions))
        kernel = MahalanobisKernel(means, factors, covariance_type, np.float32)
        with selected(implementation):
            single = kernel.distances(X32)
        assert single.dtype == np.float32
        assert_allclose(
            single, expected, rtol=1e-5, atol=1e-3, err_msg=f"d={n_features}"
        )


# -- out overlapping X ------------------------------------------------------
@pytest.fixture(scope="module")
def model_2d():
    """A fitted two-component mixture in 2-D (fitted once: fits are slow)."""
    rng = np.random.RandomState(0)
    return NSigmaGaussianMixture(n_components=2, random_state=0).fit(
        rng.normal(size=(300, 2))
    )


@pytest.fixture(scope="module")
def model_3d():
    """A fitted three-component mixture in 3-D."""
    rng = np.random.RandomState(1)
    return NSigmaGaussianMixture(n_components=3, random_state=0).fit(
        rng.normal(size=(300, 3))
    )


@pytest.mark.parametrize("implementation", KERNELS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shift", [1, 3, 37, -1, -20])
def test_out_partially_overlapping_x(
    monkeypatch, model_2d, implementation, dtype, shift
):
    """Check an ``out`` that shares part of X's memory gets the right values.

    ``out`` starts ``shift`` rows after X (or before it, when negative):
    writing a block of results once overwrote rows of X not read yet. Small
    chunks and blocks put many chunk boundaries in 500 rows.
    """
    monkeypatch.setattr(distance, "_CHUNK_BYTES", 1 << 12)
    monkeypatch.setattr(distance, "_COMPILED_BLOCK_ROWS", 64)
    model, rng = model_2d, np.random.RandomState(0)
    n = 500
    memory = (3 * rng.normal(size=(n + abs(shift)) * 2)).astype(dtype)
    if shift > 0:
        X, out = memory[: -2 * shift], memory[2 * shift :]
    else:
        X, out = memory[-2 * shift :], memory[: 2 * shift]
    X, out = X.reshape(n, 2), out.reshape(n, 2)
    assert np.shares_memory(X, out)
    expected = model.mahalanobis(X.copy())
    with selected(implementation):
        result = model.mahalanobis(X, out=out)
    assert result is out
    assert_allclose(out, expected, rtol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("implementation", KERNELS)
@pytest.mark.parametrize("layout", ["same", "strided", "transposed"])
def test_out_aliasing_x(monkeypatch, model_3d, implementation, layout):
    """Check ``out`` that is X itself, or X's memory in another layout."""
    monkeypatch.setattr(distance, "_CHUNK_BYTES", 1 << 12)
    monkeypatch.setattr(distance, "_COMPILED_BLOCK_ROWS", 64)
    model, rng = model_3d, np.random.RandomState(1)
    X = 3 * rng.normal(size=(501, 3))
    expected = model.mahalanobis(X)
    if layout == "same":
        out = X
    elif layout == "strided":  # every other column of a wider array
        memory = np.zeros((501, 6))
        memory[:, ::2] = X
        X, out = memory[:, ::2], memory[:, :3]  # two columns of X, moved
    else:  # the same memory read along the other axis
        square = 3 * rng.normal(size=(501, 501))[:, :3].copy()
        memory = np.empty(3 * 501)
        X = memory.reshape(501, 3)
        X[:] = square
        expected = model.mahalanobis(square)
        out = memory.reshape(3, 501).T
    with selected(implementation):
        result = model.mahalanobis(X, out=out)
    assert result is out
    assert_allclose(out, expected, rtol=1e-12)


# -- X of another width than the means ---------------------------------------
def test_width_of_x_differs_from_the_means_after_a_failed_refit():
    """Check every distance method refuses X as wide as n_features_in_ only.

    A warm-started refit on 5 features fails inside scikit-learn after
    setting ``n_features_in_ = 5`` and leaves ``means_`` of shape (2, 3):
    X of 5 columns then passes validation, and the compiled kernel once read
    each 5-column block as 3-column rows.
    """
    rng = np.random.RandomState(0)
    model = NSigmaGaussianMixture(n_components=2, warm_start=True, random_state=0)
    model.fit(rng.normal(size=(300, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            model.fit(rng.normal(size=(300, 5)))
        except ValueError:
            pass
    if model.means_.shape == (2, 3):
        # the state such a refit leaves (set by hand if fit no longer does)
        model.n_features_in_ = 5
    assert model.means_.shape == (2, 3)
    X5 = rng.normal(size=(40, 5))
    calls = {
        "mahalanobis": lambda: model.mahalanobis(X5),
        "mahalanobis out": lambda: model.mahalanobis(X5, out=np.empty((40, 2))),
        "predict_within": lambda: model.predict_within(X5),
        "per_component": lambda: model.predict_within(X5, per_component=True),
        "tail_probability": lambda: model.tail_probability(X5),
    }
    for implementation in [None, *INSTRUCTION_SETS]:
        with selected(implementation):
            for call in calls.values():
                with pytest.raises(ValueError, match="X has 5 features.*means.* 3 f"):
                    call()


@pytest.mark.parametrize("implementation", KERNELS)
@pytest.mark.parametrize("width", [2, 4, 8])
def test_kernel_refuses_x_of_another_width(implementation, width):
    """Check each entry point of the kernel refuses X not 3 features wide."""
    rng = np.random.RandomState(0)
    means, factors, _ = random_model(rng, 2, 3, "full")
    kernel = MahalanobisKernel(means, factors, "full", np.float64)
    X = rng.normal(size=(24, width))
    calls = [
        lambda: kernel.squared(X),
        lambda: kernel.distances(X),
        lambda: kernel.within(X, np.ones(2)),
        lambda: kernel.within(X, np.ones(2), per_component=True),
        lambda: kernel.min_scaled(X, np.ones(2)),
    ]
    with selected(implementation):
        for call in calls:
            with pytest.raises(ValueError, match=f"X has {width} features"):
                call()
