"""The numerical steps of EM for Gaussian mixtures, on the distance kernel.

scikit-learn's ``BaseMixture.fit_predict`` keeps the fit loop (initialisation,
``n_init``, ``warm_start``, convergence on the lower bound); the mixins here
replace the hooks it calls for NumPy input, so that every fitted attribute,
``n_iter_`` and ``lower_bound_`` are those of the parent class up to rounding.
Array API input (``array_api_dispatch``) keeps the parent's code path.

E-step
    The squared Mahalanobis distances of a chunk of rows come from
    :class:`~sklearn_nsigma._distance.MahalanobisKernel` (compiled or NumPy),
    written straight into the chunk's rows of the (n_samples, n_components)
    log-responsibilities. While the chunk is in cache the per-component
    constants (log-determinants, log-weights and, for the Bayesian mixture,
    the expectations of the variational posterior) are added and the
    log-sum-exp is taken, in a (n_components, chunk) buffer so that every
    elementwise step runs along long contiguous rows: shifted by the largest
    constant (an upper bound of every term, the distances being
    non-negative), and by each row's own maximum only for the rare rows
    whose sum underflows. No (n_samples, n_components,
    n_features) array is formed and the only full-size array is the
    log-responsibilities the fit loop needs.

M-step
    Its sums are taken in the E-step's pass, from each chunk's
    responsibilities while they are in cache (``X`` is read once per
    iteration and no exponential is taken twice); ``_m_step`` computes them
    itself only when given log-responsibilities the E-step did not produce.
    Rows of a chunk are centred on ``c`` (the
    mean of a strided subsample of ``X``, so that data far from the origin
    keep their precision) and laid out feature-major with a row of ones,
    ``u = [x - c; 1]``; the products ``u_a * u_b`` (all pairs for ``full``,
    squares for ``diag`` and ``spherical``, none for ``tied``) are stacked
    below ``u``, and one matrix product with the responsibilities gives every
    component's sum of responsibilities, first moments and second moments at
    once: ``2 * n * K * (d + 1) * (d + 2) / 2`` flops for ``full``, half of a
    per-component GEMM. The sums are accumulated in float64 (for float32 input
    too, whose parameters are then returned in float32 as the parent does)
    and turned into the means and covariances about each component's own
    mean.

Both steps spread the chunks over threads: as many as the BLAS thread limit
(so ``threadpoolctl.threadpool_limits`` controls them), BLAS running
single-threaded meanwhile.
"""

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.special import digamma

from sklearn_nsigma._compat import (
    _compute_log_det_cholesky,
    _compute_precision_cholesky,
    _is_numpy_namespace,
    get_namespace,
)
from sklearn_nsigma._distance import (
    MahalanobisKernel,
    _blas_threads,
    _single_threaded_blas,
)

# Bytes of the per-chunk work buffers of a thread.
_CHUNK_BYTES = 1 << 20
_MIN_ROWS, _MAX_ROWS = 256, 8192
# Fewer chunks than this run in the calling thread.
_MIN_CHUNKS_FOR_THREADS = 4
# Rows of X whose mean centres the M-step's sums (a strided subsample).
_CENTER_ROWS = 10_000


def _chunk_rows(n_samples: int, row_bytes: int) -> int:
    rows = min(_MAX_ROWS, max(_MIN_ROWS, _CHUNK_BYTES // max(1, row_bytes)))
    return int(max(1, min(rows, n_samples)))


def _map_chunks(n_samples: int, rows: int, make_state, step) -> list:
    """Run ``step(state, batch)`` over row chunks; return the states.

    Chunks are dealt round-robin to up to the BLAS thread limit of threads,
    each with its own ``state = make_state()`` (buffers and accumulators), so
    the result does not depend on scheduling, only on the thread count.
    """
    starts = range(0, n_samples, rows)

    def run(my_starts):
        state = make_state()
        for start in my_starts:
            step(state, slice(start, min(start + rows, n_samples)))
        return state

    n_threads = 1
    if len(starts) >= _MIN_CHUNKS_FOR_THREADS:
        n_threads = min(_blas_threads(), len(starts))
    # BLAS (and the distance kernel, which reads its limit) single-threaded
    # inside: the threads here are the only ones
    with _single_threaded_blas():
        if n_threads == 1:
            return [run(starts)]
        groups = [starts[i::n_threads] for i in range(n_threads)]
        with ThreadPoolExecutor(n_threads) as executor:
            return list(executor.map(run, groups))


# -- M-step sums --------------------------------------------------------------
def _center(X) -> np.ndarray:
    """Mean of a strided subsample of X, in float64: where sums are centred."""
    step = max(1, X.shape[0] // _CENTER_ROWS)
    return X[::step].mean(axis=0, dtype=np.float64)


class _Moments:
    """Responsibility-weighted sums of the rows of X, centred, chunk by chunk.

    ``add`` takes the (n_components, m) responsibilities of a chunk of rows
    (float64) and adds, for every component, the sum of the
    responsibilities, of ``r (x - c)`` and of the second moments
    ``r (x - c)(x - c)^T`` (all pairs for ``full``, squares for ``diag`` and
    ``spherical``; for ``tied`` the unweighted scatter) with one matrix
    product. ``result`` combines the states of the threads.
    """

    def __init__(self, X, n_components, covariance_type, entropy=False):
        self.X = X
        self.center = _center(X)
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.entropy = entropy
        d = self.n_features = X.shape[1]
        if covariance_type == "full":
            self.n_head = d * (d + 1) // 2
        elif covariance_type in ("diag", "spherical"):
            self.n_head = d
        else:
            self.n_head = 0
        self.n_rows = self.n_head + d + 1
        self.offsets = np.cumsum([0] + [d - a for a in range(d)])

    @property
    def row_bytes(self) -> int:
        return 8 * (self.n_rows + 2 * self.n_components)

    def new_state(self, rows: int) -> dict:
        design = np.empty((self.n_rows, rows))
        design[-1] = 1.0
        return {
            "design": design,
            "weights": np.empty((self.n_components, rows)),
            "sums": np.zeros((self.n_components, self.n_rows)),
            "total": (
                np.zeros((self.n_features, self.n_features))
                if self.covariance_type == "tied"
                else None
            ),
            "entropy": 0.0,
        }

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

    def result(self, states) -> dict:
        """``center`` (d,), ``counts`` (K,), ``first`` (K, d), ``second``.

        ``second`` is (K, d, d) for ``full``, (K, d) for ``diag`` and
        ``spherical`` and the scatter (d, d) of all samples for ``tied``;
        ``entropy`` (the sum of ``resp * log_resp``) when asked. float64.
        """
        d, n_head, n_components = self.n_features, self.n_head, self.n_components
        sums = sum(state["sums"] for state in states)
        stats = {
            "center": self.center,
            "counts": sums[:, -1].copy(),
            "first": sums[:, n_head : n_head + d].copy(),
        }
        if self.covariance_type == "full":
            second = np.empty((n_components, d, d))
            for a in range(d):
                block = sums[:, self.offsets[a] : self.offsets[a + 1]]
                second[:, a, a:] = block
                second[:, a:, a] = block
            stats["second"] = second
        elif n_head:
            stats["second"] = sums[:, :d].copy()
        else:
            stats["second"] = sum(state["total"] for state in states)
        if self.entropy:
            stats["entropy"] = sum(state["entropy"] for state in states)
        return stats


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
    rows = _chunk_rows(n_samples, moments.row_bytes)

    def step(state, batch):
        weights = state["weights"][:, : batch.stop - batch.start]
        if log:
            np.exp(resp[batch].T, out=weights)
        else:
            weights[...] = resp[batch].T
        moments.add(state, batch, weights)
        if entropy:
            state["entropy"] += float(np.vdot(weights, resp[batch].T))

    states = _map_chunks(n_samples, rows, lambda: moments.new_state(rows), step)
    return moments.result(states)


# -- E-step -------------------------------------------------------------------
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
            # underflow: shift these rows by their own maximum instead
            cols = logs[:, low]
            peak = cols.max(axis=0)
            peak[~np.isfinite(peak)] = 0
            with np.errstate(under="ignore", divide="ignore"):
                sums[low] = np.log(np.exp(cols - peak).sum(axis=0)) + peak
        with np.errstate(under="ignore", invalid="ignore"):
            np.subtract(logs, sums, out=logs)
        block.T[...] = logs
        state["log_total"] += float(sums.sum(dtype=np.float64)) + m * shift
        if norm_out is not None:
            np.add(sums, shift, out=norm_out[batch])
        if moments is not None:
            if low.size:
                with np.errstate(under="ignore"):
                    weights[:, low] = np.exp(logs[:, low])
            moments.add(state, batch, weights)
            if moments.entropy:
                state["entropy"] += float(np.vdot(weights, logs))

    states = _map_chunks(n_samples, rows, make_state, step)
    total = sum(state["log_total"] for state in states)
    return total, None if moments is None else moments.result(states)


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


def _gaussian_log_offsets(means, precisions_cholesky, covariance_type):
    """``-d log(2 pi) / 2 + log det(L_k)``: the log-density at distance 0."""
    n_features = means.shape[1]
    log_det = _compute_log_det_cholesky(
        precisions_cholesky, covariance_type, n_features
    )
    # in the dtype of the factors, as scikit-learn's log-probabilities
    return np.asarray(log_det) - 0.5 * n_features * math.log(2 * math.pi)


# -- the hooks of BaseMixture -------------------------------------------------
class _KernelEMMixin:
    """EM steps of a Gaussian mixture on the distance kernel, for NumPy input.

    Used left of a scikit-learn mixture class, whose ``fit_predict`` runs the
    loop. ``_e_step`` also adds up the next M-step's sums while each chunk of
    responsibilities is in cache and keeps them until ``_m_step`` is called
    with the same log-responsibilities (otherwise ``_m_step`` computes them
    from its arguments). ``_log_prob_offsets`` and ``_update_parameters``
    are each class's own parts.
    """

    # whether the lower bound needs sum(resp * log_resp)
    _needs_entropy = False

    def _numpy_input(self, X, xp) -> bool:
        xp, _ = get_namespace(X, xp=xp)
        return _is_numpy_namespace(xp) and isinstance(X, np.ndarray)

    def _em_kernel(self, X, offsets) -> MahalanobisKernel:
        """The kernel in the dtype of the parent's log-probabilities."""
        dtype = np.result_type(
            X.dtype, self.means_.dtype, self.precisions_cholesky_.dtype, offsets.dtype
        )
        return MahalanobisKernel(
            self.means_, self.precisions_cholesky_, self.covariance_type, dtype
        )

    def _weighted_offsets(self, n_features) -> np.ndarray:
        return np.asarray(self._log_prob_offsets(n_features)) + np.asarray(
            self._estimate_log_weights()
        )

    def _kernel_log_prob(self, X, offsets) -> np.ndarray:
        kernel = self._em_kernel(X, offsets)
        log_prob = kernel.squared(X)
        log_prob *= -0.5
        log_prob += offsets.astype(kernel.dtype)
        return log_prob

    def _estimate_log_prob(self, X, xp=None):
        if not self._numpy_input(X, xp):
            return super()._estimate_log_prob(X, xp=xp)
        return self._kernel_log_prob(X, self._log_prob_offsets(X.shape[1]))

    def _estimate_weighted_log_prob(self, X, xp=None):
        if not self._numpy_input(X, xp):
            return super()._estimate_weighted_log_prob(X, xp=xp)
        return self._kernel_log_prob(X, self._weighted_offsets(X.shape[1]))

    def _fused_e_step(self, X, norm_out=None, moments=None, reuse=None):
        offsets = self._weighted_offsets(X.shape[1])
        kernel = self._em_kernel(X, offsets)
        shape = (X.shape[0], kernel.n_components)
        if reuse is not None and reuse.shape == shape and reuse.dtype == kernel.dtype:
            log_resp = reuse
        else:
            log_resp = np.empty(shape, dtype=kernel.dtype)
        if norm_out is True:
            norm_out = np.empty(X.shape[0], dtype=kernel.dtype)
        total, stats = log_prob_resp(
            X,
            kernel,
            offsets,
            resp_out=log_resp,
            norm_out=norm_out,
            moments=moments,
        )
        return total, log_resp, stats, norm_out

    def _estimate_log_prob_resp(self, X, xp=None):
        if not self._numpy_input(X, xp):
            return super()._estimate_log_prob_resp(X, xp=xp)
        _, log_resp, _, log_prob_norm = self._fused_e_step(X, norm_out=True)
        return log_prob_norm, log_resp

    def _e_step(self, X, xp=None):
        if not self._numpy_input(X, xp):
            return super()._e_step(X, xp=xp)
        moments = _Moments(
            X, self.n_components, self.covariance_type, entropy=self._needs_entropy
        )
        # Inside fit, the previous iteration's log-responsibilities are dead
        # once the E-step starts: their array is reused (one (n, K) array).
        reuse = self.__dict__.get("_em_fitting")
        total, log_resp, stats, _ = self._fused_e_step(
            X, moments=moments, reuse=reuse if isinstance(reuse, np.ndarray) else None
        )
        if reuse is not None:
            self._em_fitting = log_resp
        self._em_pending = (X, log_resp, stats)
        return log_resp.dtype.type(total / X.shape[0]), log_resp

    def _m_step(self, X, log_resp, xp=None):
        if not self._numpy_input(X, xp):
            return super()._m_step(X, log_resp, xp=xp)
        pending = self.__dict__.pop("_em_pending", None)
        if pending is not None and pending[0] is X and pending[1] is log_resp:
            stats = pending[2]
        else:
            stats = gaussian_statistics(
                X, log_resp, self.covariance_type, entropy=self._needs_entropy
            )
        self._update_parameters(X, log_resp, stats)

    def _gaussian_parameters(self, X, resp_dtype, stats):
        """``(nk, means, covariances)`` as scikit-learn's M-step has them."""
        return estimate_gaussian_parameters(
            stats, resp_dtype, X.dtype, self.reg_covar, self.covariance_type
        )

    def fit_predict(self, X, y=None):
        self._em_fitting = True
        try:
            return super().fit_predict(X, y)
        finally:
            # the last E-step's sums (and its log_resp) are not needed
            for name in ("_em_fitting", "_em_pending", "_resp_entropy"):
                self.__dict__.pop(name, None)


class GaussianEMMixin(_KernelEMMixin):
    """The kernel EM steps of :class:`~sklearn.mixture.GaussianMixture`."""

    def _log_prob_offsets(self, n_features):
        return _gaussian_log_offsets(
            self.means_, self.precisions_cholesky_, self.covariance_type
        )

    def _update_parameters(self, X, log_resp, stats):
        # GaussianMixture._m_step, from the sums
        self.weights_, self.means_, self.covariances_ = self._gaussian_parameters(
            X, log_resp.dtype, stats
        )
        self.weights_ /= self.weights_.sum()
        with _single_threaded_blas():
            self.precisions_cholesky_ = _compute_precision_cholesky(
                self.covariances_, self.covariance_type
            )


class BayesianEMMixin(_KernelEMMixin):
    """The kernel EM steps of :class:`~sklearn.mixture.BayesianGaussianMixture`.

    The E-step also sums ``resp * log_resp``, the entropy term of the lower
    bound, so that ``_compute_lower_bound`` need not read the
    responsibilities again.
    """

    _needs_entropy = True

    def _log_prob_offsets(self, n_features):
        # _estimate_log_prob of BayesianGaussianMixture at distance 0
        degrees = self.degrees_of_freedom_
        log_lambda = n_features * np.log(2.0) + np.sum(
            digamma(0.5 * (degrees - np.arange(0, n_features)[:, np.newaxis])), 0
        )
        return (
            _gaussian_log_offsets(
                self.means_, self.precisions_cholesky_, self.covariance_type
            )
            - 0.5 * n_features * np.log(degrees)
            + 0.5 * (log_lambda - n_features / self.mean_precision_)
        )

    def _initialize(self, X, resp):
        if not self._numpy_input(X, None):
            return super()._initialize(X, resp)
        stats = gaussian_statistics(X, resp, self.covariance_type, log=False)
        self._update_posterior(*self._gaussian_parameters(X, resp.dtype, stats))

    def _update_posterior(self, nk, xk, sk):
        """The parent's updates from the sums (small matrices, one thread)."""
        with _single_threaded_blas():
            self._estimate_weights(nk)
            self._estimate_means(nk, xk)
            self._estimate_precisions(nk, xk, sk)

    def _update_parameters(self, X, log_resp, stats):
        # BayesianGaussianMixture._m_step, from the sums
        self._update_posterior(*self._gaussian_parameters(X, log_resp.dtype, stats))
        self._resp_entropy = (log_resp, stats["entropy"])

    def _compute_lower_bound(self, log_resp, log_prob_norm):
        cached = self.__dict__.pop("_resp_entropy", None)
        if cached is None or cached[0] is not log_resp:
            return super()._compute_lower_bound(log_resp, log_prob_norm)
        # the parent's bound with -sum(resp * log_resp) replaced by the sum
        # taken with the M-step's: the parent computes it with log_resp of zeros
        zeros = np.zeros((1, log_resp.shape[1]), dtype=log_resp.dtype)
        return super()._compute_lower_bound(zeros, log_prob_norm) - cached[1]
