"""The E-step of EM for Gaussian mixtures, on the distance kernel.

The squared Mahalanobis distances of a chunk of rows come from
:class:`~sklearn_nsigma._distance.MahalanobisKernel` (compiled or NumPy),
written straight into the chunk's rows of the (n_samples, n_components)
log-responsibilities. While the chunk is in cache the per-component
constants (log-determinants, log-weights and, for the Bayesian mixture, the
expectations of the variational posterior) are added and the log-sum-exp is
taken, and the responsibilities, still in cache, are added into the sums of
the next M-step (:mod:`sklearn_nsigma._em_moments`), so that ``X`` is read
once per iteration and no exponential is taken twice. No (n_samples,
n_components, n_features) array is formed and the only full-size array is
the log-responsibilities the fit loop needs.

On the compiled kernel (``sklearn_nsigma._emkernel``) the log-sum-exp of
each row is shifted by the row's maximum, with vectorised exponentials and
logarithms, and the sums are accumulated in the same call. The NumPy path
works in a (n_components, chunk) buffer, so that every elementwise step runs
along long contiguous rows, shifted by the largest constant (an upper bound
of every term, the distances being non-negative), and by each row's own
maximum only for the rare rows whose sum underflows.
"""

import numpy as np

from sklearn_nsigma._em_moments import (
    _HEAD,
    _chunk_rows,
    _emkernel,
    _kernel_rows,
    _map_chunks,
    compiled_em_available,
)


def _compiled_log_prob_resp(X, kernel, offsets, resp_out, norm_out, moments):
    """:func:`log_prob_resp` on the compiled kernel."""
    n_samples, n_features = X.shape
    n_components = offsets.shape[0]
    rows = _chunk_rows(n_samples, 0, compiled=True)
    offsets = np.ascontiguousarray(offsets, dtype=np.float64)
    if moments is None:
        center, head, entropy = np.zeros(n_features), 0, False
    else:
        center, head = moments.center, _HEAD[moments.covariance_type]
        entropy = moments.entropy

    def make_state():
        state = {"sums": None, "pairs": None, "entropy": 0.0, "log_total": 0.0}
        if moments is not None:
            state.update(moments.new_state(rows, compiled=True))
        if resp_out is None:
            state["resp"] = np.empty((rows, n_components), kernel.dtype)
        return state

    def step(state, batch):
        if resp_out is None:
            block = state["resp"][: batch.stop - batch.start]
        else:
            block = resp_out[batch]
        X_block = _kernel_rows(X[batch])
        kernel.squared(X_block, out=block)
        log_total, entropy_sum = _emkernel.em_chunk(
            X_block,
            block,
            offsets,
            center,
            state["sums"],
            state["pairs"],
            None if norm_out is None else norm_out[batch],
            0,
            head,
            entropy,
        )
        state["log_total"] += log_total
        state["entropy"] += entropy_sum

    states = _map_chunks(n_samples, rows, make_state, step)
    total = sum(state["log_total"] for state in states)
    return total, None if moments is None else moments.result(states)


def _shift_underflowed_rows(logs, sums, low):
    """``log`` of the row sums of the columns ``low`` of ``logs``, in ``sums``.

    For the rows whose exponentials, shifted by the mixture's largest
    offset, underflowed: each is shifted by its own maximum instead.
    """
    cols = logs[:, low]
    peak = cols.max(axis=0)
    peak[~np.isfinite(peak)] = 0
    with np.errstate(under="ignore", divide="ignore"):
        sums[low] = np.log(np.exp(cols - peak).sum(axis=0)) + peak


def _add_moments(moments, state, batch, weights, logs, low):
    """Add a chunk's responsibilities ``weights`` to the M-step's sums."""
    if low.size:
        # the rows whose shifted sum underflowed: from their log-responsibilities
        with np.errstate(under="ignore"):
            weights[:, low] = np.exp(logs[:, low])
    moments.add(state, batch, weights)
    if moments.entropy:
        state["entropy"] += float(np.vdot(weights, logs))


def log_prob_resp(X, kernel, offsets, *, resp_out=None, norm_out=None, moments=None):
    """Log-responsibilities and log-likelihoods of the rows of X, fused.

    The weighted log-probability of sample ``i`` under component ``k`` is
    ``offsets[k] - squared_distance[i, k] / 2``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Finite samples.

    kernel : MahalanobisKernel
        Kernel of the mixture, in the dtype of the result.

    offsets : ndarray of shape (n_components,)
        Per-component constants (log-weights included).

    resp_out : ndarray of shape (n_samples, n_components), default=None
        C-contiguous array of the kernel's dtype that receives the
        log-responsibilities; None computes them in a chunk buffer only.

    norm_out : ndarray of shape (n_samples,), default=None
        Receives ``log p(x_i)`` when given.

    moments : _Moments, default=None
        When given, the responsibilities of each chunk, still in cache, are
        also added to these sums (the next M-step's), which saves the M-step
        a pass over X and the exponentials.

    Returns
    -------
    total : float
        The sum of ``log p(x_i)`` over the samples.

    stats : dict or None
        ``moments.result(...)``, or None without ``moments``.
    """
    if compiled_em_available():
        return _compiled_log_prob_resp(X, kernel, offsets, resp_out, norm_out, moments)
    n_samples = X.shape[0]
    n_components = offsets.shape[0]
    dtype = kernel.dtype
    offsets = np.asarray(offsets, dtype=np.float64)
    finite = offsets[np.isfinite(offsets)]
    shift = float(finite.max()) if finite.size else 0.0
    column = (offsets - shift).astype(dtype)[:, np.newaxis]
    # sums below this are recomputed with the row's own maximum
    tiny = float(np.finfo(dtype).tiny) * 2.0**60
    row_bytes = 4 * n_components * dtype.itemsize
    if moments is not None:
        row_bytes += moments.row_bytes
    rows = _chunk_rows(n_samples, row_bytes)

    def make_state():
        # (n_components, rows) buffers: elementwise work along long rows
        state = {} if moments is None else moments.new_state(rows)
        state.update(
            resp=np.empty((rows, n_components), dtype),
            log=np.empty((n_components, rows), dtype),
            exp=np.empty((n_components, rows), dtype),
            sum=np.empty(rows, dtype),
            log_total=0.0,
        )
        return state

    def step(state, batch):
        m = batch.stop - batch.start
        block = state["resp"][:m] if resp_out is None else resp_out[batch]
        kernel.squared(X[batch], out=block)
        logs = state["log"][:, :m]
        np.multiply(block.T, -0.5, out=logs)
        logs += column
        expo = np.exp(logs, out=state["exp"][:, :m])
        sums = np.add.reduce(expo, axis=0, out=state["sum"][:m])
        low = np.flatnonzero(~(sums > tiny))
        if moments is not None:
            weights = state["weights"][:, :m]
            with np.errstate(divide="ignore", invalid="ignore"):
                np.divide(expo, sums, out=weights)
        with np.errstate(divide="ignore"):
            np.log(sums, out=sums)
        if low.size:
            _shift_underflowed_rows(logs, sums, low)
        with np.errstate(under="ignore", invalid="ignore"):
            np.subtract(logs, sums, out=logs)
        block.T[...] = logs
        state["log_total"] += float(sums.sum(dtype=np.float64)) + m * shift
        if norm_out is not None:
            np.add(sums, shift, out=norm_out[batch])
        if moments is not None:
            _add_moments(moments, state, batch, weights, logs, low)

    states = _map_chunks(n_samples, rows, make_state, step)
    total = sum(state["log_total"] for state in states)
    return total, None if moments is None else moments.result(states)
