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
import sklearn_nsigma._kernel_backend as backend
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
    monkeypatch.setattr(backend, "_COMPILED_BLOCK_ROWS", 64)
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
    monkeypatch.setattr(backend, "_COMPILED_BLOCK_ROWS", 64)
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


# -- the compiled kernel's entry point ----------------------------------------
def _compute_args(X, n_features=3, n_components=1, mode=0, dtype=np.float64):
    """Arguments of ``_ckernel.compute`` for an identity model on X."""
    d, K = n_features, n_components
    out = np.empty((X.shape[0], K) if mode in (0, 3) else X.shape[0])
    return [
        X, np.zeros(d, dtype), np.stack([np.eye(d, dtype=dtype)] * K),
        np.zeros((K, d), dtype), np.ones(K, dtype),
        out.astype(bool if mode in (2, 3) else dtype),
        X.shape[0], d, K, K, 1, mode, dtype == np.float32,
    ]  # fmt: skip


_OVERFLOWING_SIZES = """
import importlib.util, sys
import numpy as np

# the extension alone, without importing the package (and scikit-learn)
spec = importlib.util.spec_from_file_location("_ckernel", sys.argv[1])
_ckernel = importlib.util.module_from_spec(spec)
spec.loader.exec_module(_ckernel)

X, out = np.zeros((10, 3)), np.empty(10)
eye, zero, one = np.eye(3)[None], np.zeros((1, 3)), np.ones(1)
huge = [2**61, 2**62 + 1, 2**63 - 1]
cases = {
    "n_samples": lambda n: (X, np.zeros(3), eye, zero, one, out, n, 3, 1, 1, 1, 1),
    "n_components": lambda K: (X, np.zeros(3), eye, zero, one, out, 10, 3, K, 1, 1, 2),
    "n_features": lambda d: (X[:0], np.zeros(3), eye, zero, one, out, 0, d, 1, 1, 1, 1),
    "n_factors": lambda K: (X, np.zeros(3), eye, zero, one, out, 10, 3, K, K, 0, 2),
}
for name, args in cases.items():
    for size in huge:
        for single in (False, True):
            arrays = args(size)
            if single:
                arrays = tuple(
                    a.astype(np.float32) if isinstance(a, np.ndarray) else a
                    for a in arrays
                )
            try:
                _ckernel.compute(*arrays, single)
            except ValueError as error:
                print("refused", name, size, error, flush=True)
            else:
                print("accepted", name, size, flush=True)
"""


@requires_compiled
def test_compiled_entry_point_refuses_sizes_that_overflow():
    """Check size products that overflow are refused, not wrapped.

    ``n_samples * n_features * itemsize`` once wrapped around to a small
    number, passed the buffer checks and made the kernel run off its
    buffers (a segmentation fault): the cases run in a child process.
    """
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", _OVERFLOWING_SIZES, distance._ckernel.__file__],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = result.stdout.splitlines()
    assert result.returncode == 0, f"crashed after {lines[-1:]}: {result.stderr}"
    assert len(lines) == 24
    assert all(line.startswith("refused") for line in lines), lines
    assert sum("overflow" in line for line in lines) >= 18, lines


@requires_compiled
def test_check_compiled_sizes_in_python():
    """Check the Python side refuses the same sizes before calling the kernel."""
    with pytest.raises(ValueError, match=r"n_samples=2305843009213693952.*\['X'"):
        backend._check_compiled_sizes(2**61, 3, 1, 1, 8)
    with pytest.raises(ValueError, match=r"\['bias', 'out'\]"):
        backend._check_compiled_sizes(10, 3, 2**62, 1, 4)
    with pytest.raises(ValueError, match=r"\['factors', 'scratch'\]"):
        backend._check_compiled_sizes(0, 2**59, 1, 1, 8)
    backend._check_compiled_sizes(2**40, 64, 20, 20, 8)  # large but fine


@requires_compiled
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_entry_point_checks_the_width_of_x(dtype):
    """Check X must have exactly the model's number of features.

    X of 5 columns with a 3-feature model was once read as rows of 3.
    """
    compute = distance._ckernel.compute
    X5 = np.ones((10, 5), dtype)
    with pytest.raises(ValueError, match="X has 5 features, but the model.* 3"):
        compute(*_compute_args(X5, n_features=3, dtype=dtype))
    with pytest.raises(ValueError, match="2-D"):
        compute(*_compute_args(np.ones((10, 3, 1), dtype), dtype=dtype))
    with pytest.raises(ValueError, match="X has 10 rows, but n_samples is 4"):
        args = _compute_args(np.ones((10, 3), dtype), dtype=dtype)
        args[6] = 4
        compute(*args)
    # a center of more values than n_features: the model is wider than X
    args = _compute_args(np.ones((10, 3), dtype), dtype=dtype)
    args[1] = np.zeros(5, dtype)
    with pytest.raises(ValueError, match="center holds 5 values, but n_features"):
        compute(*args)
    # right: squared distance 3 of rows of ones to the origin
    args = _compute_args(np.ones((10, 3), dtype), dtype=dtype)
    assert compute(*args)
    assert_array_equal(args[5], np.full((10, 1), 3.0))


@requires_compiled
@pytest.mark.parametrize("isa", INSTRUCTION_SETS)
def test_compiled_entry_point_refuses_misaligned_and_swapped_buffers(isa):
    """Check misaligned or byte-swapped buffers are refused by the extension.

    They once reached the SIMD code as they were (misaligned loads are
    undefined behaviour; byte-swapped values are read as garbage).
    """
    compute = distance._ckernel.compute
    memory = np.zeros(31 * 8 + 1, np.uint8)
    misaligned = np.frombuffer(memory, np.float64, 30, offset=1).reshape(10, 3)
    assert not misaligned.flags.aligned
    with pytest.raises(ValueError, match="X .*(aligned|native)"):
        compute(*_compute_args(misaligned), isa)
    with pytest.raises(ValueError, match="X must hold float64 .* native"):
        compute(*_compute_args(np.ones((10, 3), ">f8")), isa)
    with pytest.raises(ValueError, match="X must hold float32"):
        compute(*_compute_args(np.ones((10, 3)), dtype=np.float32), isa)
    for position, name in [(1, "center"), (3, "bias"), (5, "out")]:
        args = _compute_args(np.ones((10, 3)))
        args[position] = args[position].astype(args[position].dtype.newbyteorder())
        with pytest.raises(ValueError, match=f"{name} must hold"):
            compute(*args, isa)
    args = _compute_args(np.ones((10, 3)))
    out = np.frombuffer(bytearray(10 * 8 + 1), np.float64, 10, offset=1)
    args[5] = out.reshape(10, 1)
    with pytest.raises(ValueError, match="out is not aligned"):
        compute(*args, isa)
    with pytest.raises(ValueError, match="out must hold one-byte booleans"):
        compute(*_compute_args(np.ones((10, 3)), mode=2)[:5], np.empty(10), *(
            _compute_args(np.ones((10, 3)), mode=2)[6:]), isa)  # fmt: skip


@requires_compiled
@pytest.mark.parametrize("isa", INSTRUCTION_SETS)
def test_compiled_entry_point_refuses_out_overlapping_x(isa):
    """Check ``out`` sharing X's memory is refused unless it is X row for row."""
    compute = distance._ckernel.compute
    memory = np.ones(33)
    X = memory[:30].reshape(10, 3)
    args = _compute_args(X, n_components=3)
    args[5] = memory[3:].reshape(10, 3)  # one row ahead of X
    with pytest.raises(ValueError, match="out overlaps X"):
        compute(*args, isa)
    args[5] = X  # X itself: each row read before it is written
    assert compute(*args, isa)
    assert_array_equal(X, np.full((10, 3), 3.0))


@pytest.mark.parametrize("implementation", KERNELS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_misaligned_and_swapped_x_are_copied_before_the_kernel(
    monkeypatch, model_3d, implementation, dtype
):
    """Check the compiled kernel only ever sees aligned, native buffers.

    Misaligned X (``np.frombuffer(..., offset=1)``) and byte-swapped X give
    the distances of an ordinary copy, through the model and the kernel.
    """
    rng = np.random.RandomState(2)
    X = (3 * rng.normal(size=(103, 3))).astype(dtype)
    size = X.nbytes
    memory = np.zeros(size + 1, np.uint8)
    misaligned = np.frombuffer(memory, dtype, X.size, offset=1).reshape(X.shape)
    misaligned[...] = X
    swapped = X.astype(X.dtype.newbyteorder())
    assert not misaligned.flags.aligned
    if distance._ckernel is not None:
        compute = distance._ckernel.compute
        seen = []

        def checked_compute(*args):
            for array in args[:6]:
                seen.append(array.flags.aligned and array.dtype.isnative)
            return compute(*args)

        monkeypatch.setattr(distance._ckernel, "compute", checked_compute)
    kernel = MahalanobisKernel(
        model_3d.means_, model_3d.precisions_cholesky_, "full", dtype
    )
    expected = kernel.distances(X)
    with selected(implementation):
        for data in (misaligned, swapped, misaligned[::2], misaligned[:, ::-1]):
            reference = kernel.distances(np.ascontiguousarray(data, dtype))
            assert_allclose(kernel.distances(data), reference, rtol=1e-6)
            assert_array_equal(
                kernel.within(data, np.full(3, 4.0)),
                kernel.within(np.ascontiguousarray(data, dtype), np.full(3, 4.0)),
            )
        assert_allclose(kernel.distances(misaligned), expected, rtol=1e-6)
        if data.dtype == np.float64:
            assert_allclose(model_3d.mahalanobis(misaligned), expected, rtol=1e-12)
    if distance._ckernel is not None and implementation is not None:
        assert seen and all(seen)


# -- float32 overflow ---------------------------------------------------------
@pytest.mark.parametrize("implementation", KERNELS)
def test_float32_distances_beyond_the_float32_range(model_2d, implementation):
    """Check distances beyond ~1.8e19 sigma in float32: inf, as documented.

    Their squares exceed the float32 maximum: ``mahalanobis`` gives inf (not
    a wrong finite value), membership and tail probabilities stay right,
    and float64 input gives the finite distances.
    """
    far = np.array([[1e19, 1e19], [3e19, -3e19], [1e30, 0.0], [0.0, 0.0]])
    with selected(implementation):
        single = model_2d.mahalanobis(far.astype(np.float32))
        double = model_2d.mahalanobis(far)
        within = model_2d.predict_within(far.astype(np.float32), n_sigma=5)
        each = model_2d.predict_within(
            far.astype(np.float32), n_sigma=5, per_component=True
        )
        tail = model_2d.tail_probability(far.astype(np.float32))
    assert np.isfinite(double).all() and (double[:3] > 1e19).all()
    assert_allclose(single[0], double[0], rtol=1e-5)  # within the range
    assert np.isposinf(single[1:3]).all()
    assert_allclose(single[3], double[3], rtol=1e-5)
    assert_array_equal(within, [False, False, False, True])
    assert not each[:3].any()
    assert_array_equal(tail[:3], 0.0)
    assert "1.8e19" in NSigmaGaussianMixture.mahalanobis.__doc__


# -- fuzz comparison of both kernels ----------------------------------------
def _layouts(X):
    """X in several memory layouts, all holding the same values."""
    n, d = X.shape
    strided = np.zeros((n, 2 * d + 1), X.dtype)[:, 1::2]
    strided[...] = X
    memory = np.zeros(X.nbytes + X.itemsize + 1, np.uint8)
    misaligned = np.frombuffer(memory, X.dtype, X.size, offset=1).reshape(n, d)
    misaligned[...] = X
    reversed_rows = np.ascontiguousarray(X[::-1])[::-1]
    swapped = X.astype(X.dtype.newbyteorder())
    return {
        "contiguous": X,
        "fortran": np.asfortranarray(X),
        "strided": strided,
        "misaligned": misaligned,
        "reversed": reversed_rows,
        "swapped": swapped,
    }


# The extremes, checked first: (n_samples, n_features, n_components).
_FUZZ_EXTREMES = [(0, 5, 3), (70, 64, 20), (1, 1, 1), (17, 16, 20), (33, 17, 1)]


def _fuzz_case(rng, shape=None):
    """A random model and X: n 0..70, d 1..64, K 1..20, any covariance type."""
    n_samples = int(rng.randint(0, 71))
    n_features = int(rng.choice([rng.randint(1, 17), rng.randint(17, 65)]))
    n_components = int(rng.randint(1, 21))
    if shape is not None:
        n_samples, n_features, n_components = shape
    covariance_type = COVARIANCE_TYPES[rng.randint(4)]
    dense = bool(rng.rand() < 0.3)
    dtype = np.float32 if rng.rand() < 0.5 else np.float64
    means, factors, precisions = random_model(
        rng, n_components, n_features, covariance_type, dense
    )
    means += rng.choice([0.0, 1e3, -1e4])
    X = means[rng.randint(n_components, size=n_samples)] + rng.normal(
        scale=rng.choice([0.5, 2.0]), size=(n_samples, n_features)
    )
    return means, factors, precisions, covariance_type, X.astype(dtype)


@pytest.mark.parametrize("implementation", KERNELS)
def test_fuzz_both_kernels_against_the_formula(implementation):
    """Check every kernel and instruction set on random shapes and layouts.

    Random n (0 .. 70: empty, partial and full tiles), d (1 .. 64: each
    unrolled width and the generic tile), K (1 .. 20), covariance types,
    dense and triangular factors, float32 and float64, and X contiguous,
    Fortran-ordered, strided, misaligned, reversed and byte-swapped: the
    squared distances match the float64 formula on the same values, and
    membership, per-component membership and the scaled minimum agree
    with them exactly.
    """
    rng = np.random.RandomState(20)
    for case in range(40):
        shape = _FUZZ_EXTREMES[case] if case < len(_FUZZ_EXTREMES) else None
        means, factors, precisions, covariance_type, X = _fuzz_case(rng, shape)
        dtype = X.dtype
        expected = textbook_squared(X, means, precisions)
        n_components = means.shape[0]
        kernel = MahalanobisKernel(means, factors, covariance_type, dtype)
        thresholds = np.median(expected, axis=0) if len(X) else np.ones(n_components)
        scales = rng.uniform(0.5, 2, size=n_components)
        scales[rng.rand(n_components) < 0.3] = np.inf
        scales[0] = 1.0
        finite = np.isfinite(scales)
        # float32: errors of eps * (|F| |x - c| + |b|)**2, relative to the
        # largest squared distance of the case (measured: below 1 % of these)
        largest = max(1.0, expected.max(initial=0))
        if dtype == np.float64:
            rtol, atol = 1e-10, 1e-12 * largest
        else:
            rtol, atol = 1e-5, 1e-5 * largest
        with use_compiled_kernel(False):
            reference = kernel.squared(X)  # the NumPy kernel
        for layout, data in _layouts(X).items():
            message = (
                f"case {case}: n={X.shape[0]} d={X.shape[1]} K={n_components} "
                f"{covariance_type} {dtype.name} {layout}"
            )
            with selected(implementation):
                squared = kernel.squared(data)
                within = kernel.within(data, thresholds)
                each = kernel.within(data, thresholds, per_component=True)
                smallest = kernel.min_scaled(data, scales)
            assert squared.shape == (X.shape[0], n_components), message
            assert squared.dtype == dtype, message
            assert_allclose(squared, expected, rtol=rtol, atol=atol, err_msg=message)
            assert_allclose(squared, reference, rtol=rtol, atol=atol, err_msg=message)
            limits = thresholds.astype(dtype)
            assert_array_equal(each, squared <= limits, err_msg=message)
            assert_array_equal(within, (squared <= limits).any(axis=1), message)
            assert_allclose(
                smallest,
                np.min(squared[:, finite] * scales[finite].astype(dtype), axis=1),
                rtol=1e-6 if dtype == np.float32 else 1e-12,
                err_msg=message,
            )
