"""No silent wrong answers from the distance kernels, and no unsafe memory use.

Regression tests for inputs that once gave wrong distances without any error
(float32 data far from the origin, an ``out`` overlapping ``X``, ``X`` of
another width than the model), for the checks of the compiled kernel's entry
point (sizes that overflow, misaligned and byte-swapped buffers), and a fuzz
comparison of both kernels over shapes, layouts and every instruction set.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import sklearn_nsigma._distance as distance
from sklearn_nsigma import NSigmaGaussianMixture, NSigmaOutlierDetector
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
    X = 1e7 + 0.3 + np.concatenate(
        [rng.normal(size=(500, 2)), rng.normal(4, 1, size=(500, 2))]
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
        means, factors, precisions = random_model(
            rng, 3, n_features, covariance_type
        )
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
