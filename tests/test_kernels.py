"""The compiled kernel and the NumPy kernel give the same answers.

Every public method goes through one of them (the compiled one when it is
built); these tests hold both to the textbook formula, on shapes that reach
every code path of the compiled kernel: n_features from 1 to beyond its
unrolled sizes, partial tiles, dense, triangular and diagonal factors, tied
factors and each output mode.
"""

import functools
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import sklearn_nsigma._distance as distance
import sklearn_nsigma._kernel_backend as backend
from sklearn_nsigma import NSigmaGaussianMixture
from sklearn_nsigma._distance import MahalanobisKernel, use_compiled_kernel

requires_compiled = pytest.mark.skipif(
    distance._ckernel is None, reason="the compiled kernel is not built"
)
# Each instruction set the compiled kernel runs on this CPU has code of its
# own (vector widths; AVX-512 and AVX2 transpose tiles in registers, the
# portable code loads them element by element).
INSTRUCTION_SETS = (
    distance._ckernel.supported_instruction_sets() if distance._ckernel else []
)


def _kernel_params():
    """The NumPy kernel (None), and the compiled one per instruction set."""
    params = [pytest.param(None, id="numpy")]
    params += [pytest.param(isa, id=f"compiled-{isa}") for isa in INSTRUCTION_SETS]
    return params


KERNELS = _kernel_params()


def selected(implementation):
    """The ``use_compiled_kernel`` block for a value of ``KERNELS``."""
    return use_compiled_kernel(implementation is not None, implementation)


def random_model(rng, n_components, n_features, covariance_type, dense=False):
    """Means and precision factors in GaussianMixture's layout."""
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
    X = X.astype(np.float64)
    return np.stack(
        [
            np.einsum("ij,jk,ik->i", X - mean, precision, X - mean)
            for mean, precision in zip(means, precisions, strict=True)
        ],
        axis=1,
    )


@pytest.mark.parametrize("implementation", KERNELS)
@settings(max_examples=40, deadline=None)
@given(
    n_samples=st.integers(1, 70),
    n_features=st.sampled_from([1, 2, 3, 5, 8, 10, 11, 14, 16, 17, 24, 33]),
    n_components=st.integers(1, 4),
    covariance_type=st.sampled_from(["full", "tied", "diag", "spherical"]),
    dense=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_every_mode_matches_the_formula(
    implementation, n_samples, n_features, n_components, covariance_type, dense, seed
):
    """Check squared, distances, within and min_scaled against the formula."""
    rng = np.random.RandomState(seed)
    means, factors, precisions = random_model(
        rng, n_components, n_features, covariance_type, dense
    )
    X = means[rng.randint(n_components, size=n_samples)] + rng.normal(
        size=(n_samples, n_features)
    )
    expected = textbook_squared(X, means, precisions)
    kernel = MahalanobisKernel(means, factors, covariance_type, "float64")
    thresholds = np.median(expected, axis=0)
    scales = rng.uniform(0.5, 2, size=n_components)
    scales[rng.rand(n_components) < 0.3] = np.inf
    scales[0] = 1.0  # at least one component counts
    finite = np.isfinite(scales)
    with selected(implementation):
        squared = kernel.squared(X)
        distances = kernel.distances(X)
        within = kernel.within(X, thresholds)
        each = kernel.within(X, thresholds, per_component=True)
        smallest = kernel.min_scaled(X, scales)
    assert_allclose(squared, expected, rtol=1e-9, atol=1e-12)
    assert_allclose(distances, np.sqrt(expected), rtol=1e-9, atol=1e-12)
    # membership is decided on the kernel's own squared distances
    assert_array_equal(each, squared <= thresholds)
    assert_array_equal(within, (squared <= thresholds).any(axis=1))
    assert_allclose(
        smallest, np.min(squared[:, finite] * scales[finite], axis=1), rtol=1e-12
    )


@requires_compiled
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("n_features", [3, 10, 20])
def test_compiled_and_numpy_kernels_agree(dtype, covariance_type, n_features):
    """Check both kernels agree to rounding, in float64 and in float32."""
    rng = np.random.RandomState(0)
    means, factors, _ = random_model(rng, 3, n_features, covariance_type)
    X = (means[rng.randint(3, size=1001)] + rng.normal(size=(1001, n_features))).astype(
        dtype
    )
    kernel = MahalanobisKernel(means, factors, covariance_type, dtype)
    with use_compiled_kernel(False):
        reference = kernel.squared(X)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    for isa in INSTRUCTION_SETS:
        with use_compiled_kernel(True, isa):
            squared = kernel.squared(X)
        assert squared.dtype == dtype
        assert_allclose(squared, reference, rtol=rtol, err_msg=isa)


@requires_compiled
@pytest.mark.parametrize("isa", INSTRUCTION_SETS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", range(1, 34))
def test_compiled_kernel_every_width(isa, dtype, n_features):
    """Check every row width, in full and partial tiles, per instruction set.

    AVX-512 transposes a tile in groups of eight features, the last group
    under a mask: each width takes a different mix of full and masked groups.
    Triangular, dense and diagonal factors of each width take the tile of
    that width or the generic tile's blocks of 8, 4, 2 and 1 outputs.
    """
    rng = np.random.RandomState(n_features)
    for covariance_type, dense in [("full", False), ("full", True), ("diag", False)]:
        means, factors, precisions = random_model(
            rng, 2, n_features, covariance_type, dense
        )
        X = means[rng.randint(2, size=53)] + rng.normal(size=(53, n_features))
        X = X.astype(dtype)
        expected = textbook_squared(X, means, precisions)
        kernel = MahalanobisKernel(means, factors, covariance_type, dtype)
        with use_compiled_kernel(True, isa):
            squared = kernel.squared(X)
        message = f"{covariance_type}, dense={dense}"
        if dtype == np.float64:
            assert_allclose(squared, expected, rtol=1e-10, err_msg=message)
        else:
            assert_allclose(
                squared,
                expected,
                rtol=1e-4,
                atol=1e-5 * expected.max(),
                err_msg=message,
            )


_READ_WITHIN_X = """
import ctypes, itertools, mmap
import numpy as np
from sklearn_nsigma import _ckernel

page = mmap.PAGESIZE
libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
cases = itertools.product(
    _ckernel.supported_instruction_sets(),
    ["float64", "float32"],
    range(1, 41),  # every width of the last group of features, twice over
    [0, 5],  # rows past the last full tile of 16
    ["end", "start"],  # the side of X an unreadable page touches
)
for isa, dtype, d, extra, side in cases:
    print("reading", isa, dtype, d, extra, side, flush=True)
    dtype = np.dtype(dtype)
    n = 16 * (1 + page // (16 * d * dtype.itemsize)) + extra
    size = n * d * dtype.itemsize
    pages = -(-size // page)
    # an unreadable page on each side of the pages that hold X
    memory = mmap.mmap(-1, (pages + 2) * page)
    start = ctypes.addressof(ctypes.c_char.from_buffer(memory))
    assert libc.mprotect(start, page, 0) == 0  # PROT_NONE
    assert libc.mprotect(start + (pages + 1) * page, page, 0) == 0
    offset = page if side == "start" else (pages + 1) * page - size
    X = np.frombuffer(memory, dtype, n * d, offset).reshape(n, d)
    X[:] = 1.0
    out = np.empty(n, bool)
    _ckernel.compute(
        X, np.zeros(d, dtype), np.eye(d, dtype=dtype)[None], np.zeros((1, d), dtype),
        np.full(1, 9.0, dtype), out, n, d, 1, 1, 1, 2, dtype == np.float32, isa,
    )
    # every row is all ones: squared distance d against a limit of 9
    print("inside", int(out.sum()), "of", n, "expected", n if d <= 9 else 0, flush=True)
"""


@requires_compiled
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mprotect")
def test_compiled_kernel_reads_nothing_outside_x():
    """Check X is read up to its last byte and from its first, and no further.

    An unreadable page touches X on one side: a load past its end (a tile's
    last row read whole) or before its start would crash the process. Every
    instruction set, both dtypes, every width from 1 to 40 (each width of the
    last, masked group of features) and partial tiles run in one child
    process, which names the case it crashed in.
    """
    result = subprocess.run(
        [sys.executable, "-c", _READ_WITHIN_X],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = result.stdout.splitlines()
    assert result.returncode == 0, f"crashed while {lines[-1:]}: {result.stderr}"
    results = [line.split() for line in lines if line.startswith("inside")]
    assert len(results) == len(lines) // 2 == 320 * len(INSTRUCTION_SETS)
    for _, inside, _, total, _, expected in results:
        assert inside == expected and int(total) >= 16


@requires_compiled
def test_compiled_kernel_far_from_the_origin():
    """Check 1e-9 relative accuracy for data at 1e6, close to the means too."""
    rng = np.random.RandomState(0)
    means, factors, precisions = random_model(rng, 4, 10, "full")
    means += 1e6
    X = means[rng.randint(4, size=500)] + rng.normal(size=(500, 10))
    X[:10] = means[0] + 1e-3 * rng.normal(size=(10, 10))  # a thousandth of sigma
    kernel = MahalanobisKernel(means, factors, "full", "float64")
    with use_compiled_kernel(True):
        distances = kernel.distances(X)
    assert_allclose(
        distances, np.sqrt(textbook_squared(X, means, precisions)), rtol=1e-9
    )


@requires_compiled
def test_compiled_kernel_handles_any_layout_and_out():
    """Check Fortran-ordered and strided X, and a non-contiguous out."""
    rng = np.random.RandomState(1)
    model = NSigmaGaussianMixture(n_components=3, random_state=0).fit(
        rng.normal(size=(300, 5))
    )
    X = rng.normal(size=(999, 10))
    strided = X[:, ::2]
    expected = model.mahalanobis(np.ascontiguousarray(strided))
    assert_allclose(model.mahalanobis(strided), expected, rtol=1e-12)
    assert_allclose(model.mahalanobis(np.asfortranarray(strided)), expected, rtol=1e-12)
    out = np.empty((3, 999)).T  # Fortran order
    assert model.mahalanobis(strided, out=out) is out
    assert_allclose(out, expected, rtol=1e-12)


@requires_compiled
def test_compiled_kernel_threads_agree(monkeypatch):
    """Check threaded blocks give the single-threaded result, row for row."""
    from threadpoolctl import threadpool_limits

    rng = np.random.RandomState(2)
    means, factors, _ = random_model(rng, 4, 6, "full")
    kernel = MahalanobisKernel(means, factors, "full", "float64")
    X = rng.normal(size=(5003, 6)) * 3
    monkeypatch.setattr(backend, "_COMPILED_BLOCK_ROWS", 64)  # many blocks
    with use_compiled_kernel(True):
        with threadpool_limits(limits=1, user_api="blas"):
            one = kernel.squared(X)
            one_within = kernel.within(X, np.full(4, 9.0))
        with threadpool_limits(limits=2, user_api="blas"):
            two = kernel.squared(X)
            two_within = kernel.within(X, np.full(4, 9.0))
    assert_array_equal(one, two)
    assert_array_equal(one_within, two_within)


@requires_compiled
def test_compiled_kernel_validates_its_buffers():
    """Check the extension refuses buffers too small for the stated shape."""
    X = np.zeros((10, 3))
    with pytest.raises(ValueError, match="out holds"):
        distance._ckernel.compute(
            X, np.zeros(3), np.eye(3)[None], np.zeros((1, 3)), np.ones(1),
            np.empty(5), 10, 3, 1, 1, 1, 0, False,
        )  # fmt: skip
    with pytest.raises(ValueError, match="mode"):
        distance._ckernel.compute(
            X, np.zeros(3), np.eye(3)[None], np.zeros((1, 3)), np.ones(1),
            np.empty(10), 10, 3, 1, 1, 1, 7, False,
        )  # fmt: skip
    with pytest.raises(ValueError, match="instruction_set='sse9'"):
        distance._ckernel.compute(
            X, np.zeros(3), np.eye(3)[None], np.zeros((1, 3)), np.ones(1),
            np.empty(10), 10, 3, 1, 1, 1, 0, False, "sse9",
        )  # fmt: skip
    best = distance._ckernel.instruction_set()
    assert best in ("avx512f", "avx2", "generic")
    assert INSTRUCTION_SETS[0] == best and INSTRUCTION_SETS[-1] == "generic"


@requires_compiled
def test_use_compiled_kernel_refuses_an_instruction_set_the_cpu_lacks():
    """Check a clear error, and the kernel choice left as it was."""
    before = distance.compiled_kernel_available()
    with pytest.raises(ValueError, match="instruction_set='sse9'.*supports"):
        with use_compiled_kernel(True, "sse9"):
            pass
    with pytest.raises(ValueError, match="instruction_set='generic'"):
        with use_compiled_kernel(False, "generic"):
            pass
    assert distance.compiled_kernel_available() == before
    assert distance._kernel_choice.get().instruction_set is None


@requires_compiled
def test_kernel_choice_holds_in_its_own_thread_only():
    """Check overlapping blocks in two threads neither see nor undo each other."""
    before = distance._kernel_choice.get()
    entered, left = threading.Barrier(2), threading.Barrier(2)
    seen = {}

    def block(name, enabled, isa, leave_first):
        with use_compiled_kernel(enabled, isa):
            entered.wait()  # both blocks are open now
            if not leave_first:
                left.wait()  # the other thread has left its block
            seen[name] = distance._kernel_choice.get()
        if leave_first:
            left.wait()

    threads = [
        threading.Thread(target=block, args=("a", True, "generic", True)),
        threading.Thread(target=block, args=("b", False, None, False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert seen == {"a": (True, "generic"), "b": (False, None)}
    assert distance._kernel_choice.get() == before


def test_use_compiled_kernel_restores_the_choice():
    """Check the context manager restores the previous kernel choice."""
    before = distance.compiled_kernel_available()
    with use_compiled_kernel(False):
        assert not distance.compiled_kernel_available()
    assert distance.compiled_kernel_available() == before


def test_use_compiled_kernel_without_the_extension(monkeypatch):
    """Check a clear error when the extension is not built."""
    monkeypatch.setattr(backend, "_ckernel", None)
    with pytest.raises(RuntimeError, match="not built"):
        with use_compiled_kernel(True):
            pass


def _c_compiler_available() -> bool:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(compiler) is not None


@pytest.mark.skipif(
    not _c_compiler_available(), reason="no C compiler: the NumPy kernel only"
)
def test_the_compiled_kernel_is_built_where_a_compiler_is():
    """Check an install with a C compiler built the extension, and uses it."""
    assert distance._ckernel is not None
    if os.environ.get("SKLEARN_NSIGMA_KERNEL", "").lower() != "numpy":
        assert distance.compiled_kernel_available()


@functools.cache
def _fitted_pair(n_features):
    """A mixture and a detector of it, fitted once per width for the module.

    The tests that use them check that they are left unchanged.
    """
    from sklearn_nsigma import NSigmaOutlierDetector

    X_fit = np.random.RandomState(0).normal(size=(300, n_features))
    model = NSigmaGaussianMixture(n_components=2, random_state=0).fit(X_fit)
    return model, NSigmaOutlierDetector(model).fit(X_fit)


@pytest.mark.parametrize("implementation", KERNELS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [3, 10])  # partial group; full + partial
@pytest.mark.parametrize("row", [0, 517, 1030])  # first, inside, last partial tile
@pytest.mark.parametrize("bad, message", [(np.nan, "NaN"), (-np.inf, "infinity")])
def test_non_finite_input_raises_the_scikit_learn_error(
    implementation, dtype, n_features, row, bad, message
):
    """Check every distance method refuses NaN and inf as check_array does.

    The compiled kernel finds them in its own pass over X; the error, its
    message and the untouched estimator must be those of a separate check.
    """
    from sklearn.utils.validation import check_array

    model, detector = _fitted_pair(n_features)
    rng = np.random.RandomState(1)
    X = rng.normal(size=(1031, n_features)).astype(dtype)
    X[row, n_features - 1] = bad
    calls = {
        "predict_within": (model, lambda: model.predict_within(X)),
        "mahalanobis": (model, lambda: model.mahalanobis(X)),
        "tail_probability": (model, lambda: model.tail_probability(X)),
        "score_samples": (detector, lambda: detector.score_samples(X)),
        "predict": (detector, lambda: detector.predict(X)),
        "transform": (detector, lambda: detector.transform(X)),
    }
    means = model.means_.copy()
    with selected(implementation):
        for name, (estimator, call) in calls.items():
            with pytest.raises(ValueError) as reference:
                check_array(X, estimator=estimator, input_name="X")
            assert message in str(reference.value)
            with pytest.raises(ValueError) as raised:
                call()
            assert str(raised.value) == str(reference.value), name
    assert_array_equal(model.means_, means)


@pytest.mark.parametrize("implementation", KERNELS)
def test_kernel_without_a_finiteness_check_propagates_nan(implementation):
    """Check a kernel told X is checked does not raise (fit-time data)."""
    rng = np.random.RandomState(3)
    means, factors, _ = random_model(rng, 2, 4, "full")
    X = rng.normal(size=(40, 4))
    X[5, 1] = np.nan
    kernel = MahalanobisKernel(means, factors, "full", "float64")
    with selected(implementation):
        squared = kernel.squared(X)
    assert np.isnan(squared[5]).all()
    assert np.isfinite(np.delete(squared, 5, axis=0)).all()


def test_source_distribution_ships_every_kernel_header():
    """Check MANIFEST.in lists each header the C sources include.

    A header missing from the sdist makes the optional extension fail to
    build from it, silently: installs from the sdist would then run the
    NumPy kernel only.
    """
    root = Path(__file__).resolve().parent.parent
    if not (root / "MANIFEST.in").exists():
        pytest.skip("not a source checkout")
    shipped = set((root / "MANIFEST.in").read_text().split())
    sources = root / "sklearn_nsigma"
    included = {
        f"sklearn_nsigma/{name}"
        for path in sources.glob("_ckernel*.[ch]")
        for name in re.findall(r'"(_ckernel\w*\.h)"', path.read_text())
    }
    assert included >= {
        "sklearn_nsigma/_ckernel_body.h",
        "sklearn_nsigma/_ckernel_transpose.h",
    }
    assert included <= shipped
