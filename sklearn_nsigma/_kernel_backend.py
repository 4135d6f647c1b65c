"""Which distance kernel runs, and the compiled one's calling convention.

NumPy input goes through the compiled kernel (``sklearn_nsigma._ckernel``,
built at install time where a C compiler is present) unless the environment
variable ``SKLEARN_NSIGMA_KERNEL=numpy`` (read at import) or
:func:`use_compiled_kernel` says otherwise. Both kernels spread row chunks
over the BLAS thread limit's number of threads (``threadpoolctl`` controls
it); the helpers here read that limit and keep BLAS single-threaded while
the chunks run.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NamedTuple

import numpy as np
from threadpoolctl import ThreadpoolController  # a scikit-learn dependency

try:
    from sklearn_nsigma import _ckernel
except ImportError:  # built without a C compiler: the NumPy kernel only
    _ckernel = None

_MIN_CHUNK_ROWS = 16
# Fewer chunks than this are computed in the calling thread.
_MIN_CHUNKS_FOR_THREADS = 4
# Rows per call of the compiled kernel: large enough to amortise the call,
# small enough to balance the threads.
_COMPILED_BLOCK_ROWS = 1 << 16
# Modes of the compiled kernel (see _ckernel.c).
_MODE_SQUARED, _MODE_MIN_SCALED, _MODE_WITHIN, _MODE_WITHIN_EACH = range(4)


class _KernelChoice(NamedTuple):
    """Which kernel NumPy input goes through, read once per call."""

    compiled: bool
    # None: the compiled kernel runs the CPU's best instruction set.
    instruction_set: str | None = None


_DEFAULT_CHOICE = _KernelChoice(
    _ckernel is not None
    and os.environ.get("SKLEARN_NSIGMA_KERNEL", "").lower() != "numpy"
)
# A context variable: a choice made in one thread (or task) is not seen by
# calls running meanwhile in another.
_kernel_choice = ContextVar("sklearn_nsigma_kernel_choice", default=_DEFAULT_CHOICE)


def compiled_kernel_available() -> bool:
    """Whether NumPy input currently goes through the compiled kernel."""
    return _kernel_choice.get().compiled


@contextmanager
def use_compiled_kernel(enabled: bool, instruction_set: str | None = None):
    """Select the compiled (True) or the NumPy (False) kernel in a block.

    For tests and benchmarks that compare the two. ``instruction_set`` (one
    of ``_ckernel.supported_instruction_sets()``) runs the compiled kernel
    with that instruction set instead of the CPU's best, so every code path
    can be tested on one machine. The choice holds in the current thread
    (context) only. Enabling it without the compiled extension raises
    ``RuntimeError``; an instruction set this CPU lacks raises ``ValueError``.
    """
    if enabled and _ckernel is None:
        raise RuntimeError(
            "The compiled kernel sklearn_nsigma._ckernel is not built: install "
            "from source with a C compiler (gcc or clang) available."
        )
    if instruction_set is not None and (
        not enabled or instruction_set not in _ckernel.supported_instruction_sets()
    ):
        raise ValueError(
            f"instruction_set={instruction_set!r} needs the compiled kernel on a "
            "CPU that supports it; this one supports "
            f"{_ckernel.supported_instruction_sets() if _ckernel else []}."
        )
    token = _kernel_choice.set(_KernelChoice(bool(enabled), instruction_set))
    try:
        yield
    finally:
        _kernel_choice.reset(token)


_controller = None


def _threadpool_controller() -> ThreadpoolController:
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


_threaded_lock = threading.Lock()


@contextmanager
def _single_threaded_blas():
    """Run one threaded kernel call at a time, with BLAS limited to 1 thread.

    The BLAS limit is process-wide: overlapping calls that each set and
    restore it would restore each other's temporary value. Threaded calls
    therefore take turns (each one already uses every allowed thread).
    """
    with _threaded_lock:
        limiter = _threadpool_controller().limit(limits=1, user_api="blas")
        try:
            yield
        finally:
            limiter.restore_original_limits()


def _blas_threads() -> int:
    """The current BLAS thread limit (what threadpool_limits sets)."""
    counts = [
        lib.num_threads
        for lib in _threadpool_controller().lib_controllers
        if lib.user_api == "blas"
    ]
    return max(1, min(counts)) if counts else 1


# The largest byte count the compiled kernel can index (its Py_ssize_t).
_INDEX_MAX = int(np.iinfo(np.intp).max)
# Bytes of the compiled kernel's scratch per feature (its MAX_VECTOR_BYTES).
_SCRATCH_BYTES_PER_FEATURE = 64


def _check_compiled_sizes(
    n_samples: int, n_features: int, n_components: int, n_factors: int, itemsize: int
) -> None:
    """Refuse sizes whose byte counts the compiled kernel could not index.

    The compiled entry point checks them as well; this names the culprit
    before any buffer is prepared.
    """
    sizes = {
        "X": n_samples * n_features * itemsize,
        "out": n_samples * n_components * itemsize,
        "factors": n_factors * n_features * n_features * itemsize,
        "bias": n_components * n_features * itemsize,
        "scratch": n_features * _SCRATCH_BYTES_PER_FEATURE,
    }
    too_large = {name: size for name, size in sizes.items() if size > _INDEX_MAX}
    if too_large:
        raise ValueError(
            f"Sizes too large for the compiled kernel (n_samples={n_samples}, "
            f"n_features={n_features}, n_components={n_components}): the byte "
            f"counts of {sorted(too_large)} exceed {_INDEX_MAX}."
        )


def compiled_parameters(center, factors, offsets, covariance_type, dtype) -> dict:
    """The compiled kernel's form of the factors: y = F (x - c) - bias.

    ``F`` is the transposed precision Cholesky factor (one matrix for
    ``tied``), ``bias[k] = F_k (mu_k - c)``. The kernel reads ``F``
    column by column, so it is passed as ``F.T``, the precision Cholesky
    factor as scikit-learn stores it; ``structure`` tells the kernel which
    entries of ``F`` can be nonzero (0 dense, 1 lower triangular, 2
    diagonal), so that it skips the exact zeros of triangular factors.
    """
    n_components, d = offsets.shape
    if covariance_type in ("diag", "spherical"):
        stored = np.zeros((n_components, d, d))
        stored[:, np.arange(d), np.arange(d)] = factors
        structure = 2
    else:
        stored = factors[:1] if covariance_type == "tied" else factors
        lower = not np.tril(stored, k=-1).any()  # F = stored.T
        structure = 1 if lower else 0
    bias = np.einsum(
        "kji,kj->ki",
        np.broadcast_to(stored, (n_components, d, d)),
        offsets,
    )
    return {
        "center": np.ascontiguousarray(center, dtype=dtype),
        "factors": np.ascontiguousarray(stored, dtype=dtype),
        "bias": np.ascontiguousarray(bias, dtype=dtype),
        "n_factors": stored.shape[0],
        "structure": structure,
        "n_components": n_components,
        "dtype": np.dtype(dtype),
    }


def run_compiled(X, params, mode, limits, out, instruction_set) -> bool:
    """Run the compiled kernel over the rows of X, threads sharing blocks.

    ``out`` is C-contiguous with one row (or value) per sample; ``limits``
    has one value per component (thresholds or scales, by ``mode``).
    ``params`` come from :func:`compiled_parameters`; ``instruction_set``
    is the kernel choice's (None: the CPU's best). Returns whether every
    value of X was finite.
    """
    dtype = params["dtype"]
    n_features = params["center"].shape[0]
    limits = np.ascontiguousarray(limits, dtype=dtype)
    n_samples = X.shape[0]
    single = dtype == np.float32
    _check_compiled_sizes(
        n_samples,
        n_features,
        params["n_components"],
        params["n_factors"],
        dtype.itemsize,
    )

    def work(batch):
        # The kernel reads C-contiguous, aligned rows of the native dtype:
        # strided, misaligned or byte-swapped rows are copied first.
        block = np.require(X[batch], dtype=dtype, requirements=["C", "A"])
        return _ckernel.compute(
            block,
            params["center"],
            params["factors"],
            params["bias"],
            limits,
            out[batch],
            block.shape[0],
            n_features,
            params["n_components"],
            params["n_factors"],
            params["structure"],
            mode,
            single,
            instruction_set,
        )

    n_threads = _blas_threads()
    rows = max(
        _MIN_CHUNK_ROWS,
        min(_COMPILED_BLOCK_ROWS, -(-n_samples // (4 * n_threads))),
    )
    batches = [
        slice(start, min(start + rows, n_samples))
        for start in range(0, n_samples, rows)
    ]
    if n_threads == 1 or len(batches) < _MIN_CHUNKS_FOR_THREADS:
        finite = [work(batch) for batch in batches]
    else:
        with ThreadPoolExecutor(min(n_threads, len(batches))) as executor:
            finite = list(executor.map(work, batches))
    return all(finite)
