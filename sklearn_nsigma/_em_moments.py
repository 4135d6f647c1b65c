"""The M-step of EM for Gaussian mixtures: responsibility-weighted sums.

Rows of a chunk are centred on ``c`` (the mean of a strided subsample of
``X``, so that data far from the origin keep their precision) and extended
with their products, the "design" row ``[head(u), u, 1]`` with
``u = x - c``: the products ``u_a * u_b`` (all pairs ``a <= b`` for
``full``, squares for ``diag`` and ``spherical``, none for ``tied``). For
every component the responsibility-weighted sum of these rows gives the
component's sum of responsibilities, first moments and second moments at
once: ``2 * n * K * (d + 1) * (d + 2) / 2`` flops for ``full``, half of a
per-component GEMM. The sums are accumulated in float64 (for float32 input
too, whose parameters are then returned in float32 as the parent does) and
turned into the means and covariances about each component's own mean.

Two implementations give the same sums: the compiled kernel
(``sklearn_nsigma._emkernel``, built at install time where a C compiler is
present), which forms the design rows of a small sub-chunk in cache and
accumulates them with a register-blocked outer-product kernel; and NumPy,
which lays a chunk out feature-major and takes one matrix product with the
responsibilities. The compiled one runs whenever the compiled distance
kernel does (``SKLEARN_NSIGMA_KERNEL=numpy`` selects NumPy for both).

Chunks are spread over threads: as many as the BLAS thread limit (so
``threadpoolctl.threadpool_limits`` controls them), BLAS running
single-threaded meanwhile.
"""

import contextvars
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from sklearn_nsigma._distance import (
    _blas_threads,
    _single_threaded_blas,
    compiled_kernel_available,
)

try:
    from sklearn_nsigma import _emkernel
except ImportError:  # built without a C compiler: NumPy only
    _emkernel = None

# Bytes of the per-chunk work buffers of a thread (NumPy path).
_CHUNK_BYTES = 1 << 20
_MIN_ROWS, _MAX_ROWS = 256, 8192
# Rows per call of the compiled kernel, which sub-chunks them itself: large
# enough to amortise the calls, small enough to balance the threads.
_COMPILED_ROWS = 16384
# Fewer chunks than this run in the calling thread.
_MIN_CHUNKS_FOR_THREADS = 4
# Rows of X whose mean centres the M-step's sums (a strided subsample).
_CENTER_ROWS = 10_000
# The design head of each covariance type, as the compiled kernel codes it.
_HEAD = {"tied": 0, "diag": 1, "spherical": 1, "full": 2}


def compiled_em_available() -> bool:
    """Whether the EM steps of the current context run on the compiled kernel."""
    return _emkernel is not None and compiled_kernel_available()


def _chunk_rows(n_samples: int, row_bytes: int, compiled: bool = False) -> int:
    if compiled:
        rows = _COMPILED_ROWS
    else:
        rows = min(_MAX_ROWS, max(_MIN_ROWS, _CHUNK_BYTES // max(1, row_bytes)))
    return int(max(1, min(rows, n_samples)))


# What a chunk's state keeps once its step is done (its buffers are dropped).
_ACCUMULATORS = ("sums", "pairs", "total", "entropy", "log_total")


def _map_chunks(n_samples: int, rows: int, make_state, step) -> list:
    """Run ``step(make_state(), batch)`` for every chunk; return the states.

    Each chunk gets its own state (buffers and accumulators; only the
    accumulators are kept), and the states come back in the order of the
    chunks, so the sums combined from them do not depend on the number of
    threads or on which thread ran which chunk. Threads (up to the BLAS
    thread limit) take the next chunk as they finish one, so a thread that
    gets less of a busy CPU does less of the work; each runs its chunks in a
    copy of the caller's context, so that the kernel choice of
    ``use_compiled_kernel`` holds there too.
    """
    batches = [
        slice(start, min(start + rows, n_samples))
        for start in range(0, n_samples, rows)
    ] or [slice(0, 0)]

    def run(batch):
        state = make_state()
        step(state, batch)
        return {key: state[key] for key in _ACCUMULATORS if key in state}

    n_threads = 1
    if len(batches) >= _MIN_CHUNKS_FOR_THREADS:
        n_threads = min(_blas_threads(), len(batches))
    # BLAS (and the distance kernel, which reads its limit) single-threaded
    # inside: the threads here are the only ones
    with _single_threaded_blas():
        if n_threads == 1:
            return [run(batch) for batch in batches]
        contexts = [contextvars.copy_context() for _ in batches]
        with ThreadPoolExecutor(n_threads) as executor:
            return list(
                executor.map(lambda c, batch: c.run(run, batch), contexts, batches)
            )


def _kernel_rows(array, dtype=None) -> np.ndarray:
    """``array`` as the compiled kernel reads it: C-contiguous, aligned."""
    if dtype is None and array.dtype not in (np.float32, np.float64):
        dtype = np.float64
    return np.require(array, dtype=dtype, requirements=["C", "A"])


def _center(X) -> np.ndarray:
    """Mean of a strided subsample of X, in float64: where sums are centred."""
    step = max(1, X.shape[0] // _CENTER_ROWS)
    return X[::step].mean(axis=0, dtype=np.float64)


class _Moments:
    """Responsibility-weighted sums of the rows of X, centred, chunk by chunk.

    ``add`` (NumPy) takes the (n_components, m) responsibilities of a chunk
    of rows (float64) and adds, for every component, the sum of the
    responsibilities, of ``r (x - c)`` and of the second moments
    ``r (x - c)(x - c)^T`` (all pairs for ``full``, squares for ``diag`` and
    ``spherical``; for ``tied`` the unweighted scatter) with one matrix
    product; ``add_compiled`` does the same from (log-)responsibilities of
    shape (m, n_components). ``result`` combines the states of the threads.
    """

    def __init__(self, X, n_components, covariance_type, entropy=False, center=None):
        self.X = X
        self.center = _center(X) if center is None else center
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.entropy = entropy
        d = self.n_features = X.shape[1]
        self.n_pairs = d * (d + 1) // 2
        self.n_head = {0: 0, 1: d, 2: self.n_pairs}[_HEAD[covariance_type]]
        self.n_rows = self.n_head + d + 1
        self.offsets = np.cumsum([0] + [d - a for a in range(d)])

    @property
    def row_bytes(self) -> int:
        return 8 * (self.n_rows + 2 * self.n_components)

    def new_state(self, rows: int, compiled: bool = False) -> dict:
        state = {
            "sums": np.zeros((self.n_components, self.n_rows)),
            "entropy": 0.0,
        }
        tied = self.covariance_type == "tied"
        if compiled:
            # the upper triangle of the scatter, as the kernel adds it
            state["pairs"] = np.zeros(self.n_pairs) if tied else None
            return state
        design = np.empty((self.n_rows, rows))
        design[-1] = 1.0
        state.update(
            design=design,
            weights=np.empty((self.n_components, rows)),
            total=np.zeros((self.n_features, self.n_features)) if tied else None,
        )
        return state

    def add(self, state, batch, weights) -> None:
        d, n_head = self.n_features, self.n_head
        design = state["design"][:, : weights.shape[1]]
        tail = design[n_head:]
        np.subtract(self.X[batch].T, self.center[:, np.newaxis], out=tail[:d])
        if self.covariance_type == "full":
            offsets = self.offsets
            for a in range(d):
                np.multiply(tail[a:d], tail[a], out=design[offsets[a] : offsets[a + 1]])
        elif n_head:
            np.square(tail[:d], out=design[:d])
        state["sums"] += weights @ design.T
        if state["total"] is not None:
            state["total"] += tail[:d] @ tail[:d].T

    def add_compiled(self, state, batch, values, mode) -> None:
        """Add the sums of a chunk on the compiled kernel.

        ``values`` (m, n_components): log-responsibilities (``mode`` 1) or
        responsibilities (2), C-contiguous.
        """
        _, entropy = _emkernel.em_chunk(
            _kernel_rows(self.X[batch]),
            values,
            np.zeros(self.n_components),
            self.center,
            state["sums"],
            state["pairs"],
            None,
            mode,
            _HEAD[self.covariance_type],
            self.entropy and mode == 1,
        )
        state["entropy"] += entropy

    def result(self, states) -> dict:
        """``center`` (d,), ``counts`` (K,), ``first`` (K, d), ``second``.

        ``second`` is (K, d, d) for ``full``, (K, d) for ``diag`` and
        ``spherical`` and the scatter (d, d) of all samples for ``tied``;
        ``entropy`` (the sum of ``resp * log_resp``) when asked. float64.
        """
        d, n_head = self.n_features, self.n_head
        sums = sum(state["sums"] for state in states)
        stats = {
            "center": self.center,
            "counts": sums[:, -1].copy(),
            "first": sums[:, n_head : n_head + d].copy(),
        }
        if self.covariance_type == "full":
            stats["second"] = self._symmetric(sums)
        elif n_head:
            stats["second"] = sums[:, :d].copy()
        elif "pairs" in states[0]:
            pairs = sum(state["pairs"] for state in states)
            stats["second"] = self._symmetric(pairs[np.newaxis])[0]
        else:
            stats["second"] = sum(state["total"] for state in states)
        if self.entropy:
            stats["entropy"] = sum(state["entropy"] for state in states)
        return stats

    def _symmetric(self, rows) -> np.ndarray:
        """(K, d, d) symmetric matrices from their upper triangles, row-major."""
        d = self.n_features
        second = np.empty((rows.shape[0], d, d))
        for a in range(d):
            block = rows[:, self.offsets[a] : self.offsets[a + 1]]
            second[:, a, a:] = block
            second[:, a:, a] = block
        return second


def sample_covariance(X, diagonal=False) -> np.ndarray:
    """``np.cov(X.T)`` (or ``np.var(X, axis=0, ddof=1)``), without a copy of X.

    Both NumPy functions subtract the mean from a full copy of X; here
    chunks of rows of a few MB are centred one after the other. float64,
    for float32 input too.
    """
    n_samples, n_features = X.shape
    mean = X.mean(axis=0, dtype=np.float64)
    rows = max(1024, _CHUNK_BYTES * 4 // (8 * n_features))
    total = np.zeros(n_features if diagonal else (n_features, n_features))
    for start in range(0, n_samples, rows):
        centred = X[start : start + rows] - mean
        if diagonal:
            total += np.einsum("ij,ij->j", centred, centred)
        else:
            total += centred.T @ centred
    return total / (n_samples - 1)


def gaussian_statistics(X, resp, covariance_type, *, log=True, entropy=False):
    """The sums of :class:`_Moments` from given (log-)responsibilities.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Samples.

    resp : ndarray of shape (n_samples, n_components)
        Responsibilities, or their logarithms when ``log`` is True.

    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        Which second moments to form.

    log : bool, default=True
        Whether ``resp`` holds log-responsibilities.

    entropy : bool, default=False
        Also sum ``resp * log_resp`` (``log`` must be True).

    Returns
    -------
    stats : dict
        As :meth:`_Moments.result`.
    """
    n_samples, n_components = resp.shape
    moments = _Moments(X, n_components, covariance_type, entropy=entropy)
    compiled = compiled_em_available()
    rows = _chunk_rows(n_samples, moments.row_bytes, compiled)

    if compiled:

        def step(state, batch):
            values = _kernel_rows(resp[batch])
            moments.add_compiled(state, batch, values, 1 if log else 2)

    else:

        def step(state, batch):
            weights = state["weights"][:, : batch.stop - batch.start]
            if log:
                np.exp(resp[batch].T, out=weights)
            else:
                weights[...] = resp[batch].T
            moments.add(state, batch, weights)
            if entropy:
                state["entropy"] += float(np.vdot(weights, resp[batch].T))

    states = _map_chunks(
        n_samples, rows, lambda: moments.new_state(rows, compiled), step
    )
    return moments.result(states)


def estimate_gaussian_parameters(stats, resp_dtype, X_dtype, reg_covar, cov_type):
    """``(nk, means, covariances)`` from the sums, as scikit-learn defines them.

    The same quantities (and dtypes) as scikit-learn's private
    ``_estimate_gaussian_parameters``: ``nk`` is the sum of the
    responsibilities plus ``10 * eps``, the means are ``resp.T @ X / nk`` and
    the covariances are taken about each component's own mean (``tied``: the
    scatter of X less that of the means, over ``sum(nk)``), plus
    ``reg_covar`` on the diagonal.
    """
    center, counts, first = stats["center"], stats["counts"], stats["first"]
    second = stats["second"]
    nk = counts + 10 * np.finfo(resp_dtype).eps
    # means relative to the centre: (first + center * counts) / nk - center
    offset = (first - center * (nk - counts)[:, np.newaxis]) / nk[:, np.newaxis]
    means = center + offset
    n_features = center.shape[0]
    if cov_type == "full":
        # sum r (u - v)(u - v)^T = S - v F^T - F v^T + R v v^T, u = x - c
        cross = np.einsum("ki,kj->kij", offset, first)
        covariances = (
            second
            - cross
            - np.swapaxes(cross, 1, 2)
            + counts[:, np.newaxis, np.newaxis]
            * np.einsum("ki,kj->kij", offset, offset)
        ) / nk[:, np.newaxis, np.newaxis]
        covariances[:, np.arange(n_features), np.arange(n_features)] += reg_covar
    elif cov_type == "tied":
        covariances = (second - (nk[:, np.newaxis] * offset).T @ offset) / nk.sum()
        covariances[np.arange(n_features), np.arange(n_features)] += reg_covar
    else:
        covariances = (
            second - 2 * offset * first + counts[:, np.newaxis] * np.square(offset)
        ) / nk[:, np.newaxis] + reg_covar
        if cov_type == "spherical":
            covariances = covariances.mean(axis=1)
    result = np.result_type(resp_dtype, X_dtype)
    return (
        nk.astype(resp_dtype),
        means.astype(result),
        covariances.astype(X_dtype if cov_type == "full" else result),
    )
