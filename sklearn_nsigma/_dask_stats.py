"""Sufficient statistics of the row blocks of a Dask array, pooled exactly.

Statistics of a block, per component ``k``: the responsibility sum
``n_k``, the weighted sum ``s_k = sum_i r_ik x_i`` and the weighted scatter
about the block's own weighted mean ``c_k = s_k / n_k`` (full and tied: a
matrix; diag and spherical: its diagonal), plus the block's share of the
lower bound (the sum of ``log p(x_i)``, and for the Bayesian mixture the sum
of ``r_ik log r_ik``). Scatters are pooled exactly (Chan et al.): the pooled
scatter about ``c`` is ``sum_b W_b + n_b (c_b - c)(c_b - c)^T``. Centring per
block keeps the precision of data far from the origin. Blocks are pooled on
the driver in block order, so the answer does not depend on the number of
workers or on which worker computed what.

The responsibilities of a block come from a source: the estimator's E-step
(the fused E-step of :mod:`sklearn_nsigma._em` where the estimator has it:
one pass over the block, no (rows, K) array), or an initialisation source of
:mod:`sklearn_nsigma._dask_init`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

from sklearn_nsigma._em_estep import log_prob_resp
from sklearn_nsigma._em_moments import _Moments, gaussian_statistics

# Working memory per chunk of rows inside a block, in bytes.
_CHUNK_BYTES = 32 * 2**20


# -- sufficient statistics ---------------------------------------------------
@dataclass
class _Statistics:
    """Weighted statistics of some rows, per component.

    ``scatter`` is about each component's weighted mean ``centres``:
    (K, d, d) for full, (d, d) summed over components for tied, (K, d) for
    diag and spherical. ``unassigned`` is ``sum_i (1 - sum_k r_ik) x_i x_i^T``
    (tied only, when responsibilities do not sum to one per row, as for the
    one-hot initialisations).
    """

    resp_sum: np.ndarray
    weighted_sum: np.ndarray
    scatter: np.ndarray
    unassigned: np.ndarray | None = None
    log_prob_norm_sum: float = 0.0
    resp_log_resp_sum: float = 0.0

    @property
    def centres(self) -> np.ndarray:
        return _safe_centres(self.resp_sum, self.weighted_sum)


def _safe_centres(resp_sum, weighted_sum):
    """``weighted_sum / resp_sum``, 0 for components without weight."""
    centres = np.zeros_like(weighted_sum)
    np.divide(
        weighted_sum, resp_sum[:, np.newaxis], out=centres, where=resp_sum[:, None] > 0
    )
    return centres


def _offset_scatter(weights, offsets, covariance_type):
    """``sum_j w_jk o_jk o_jk^T`` in the layout of ``covariance_type``.

    ``weights`` (J, K), ``offsets`` (J, K, d).
    """
    if covariance_type == "full":
        return np.einsum("jk,jka,jkb->kab", weights, offsets, offsets)
    if covariance_type == "tied":
        return np.einsum("jk,jka,jkb->ab", weights, offsets, offsets)
    return np.einsum("jk,jka->ka", weights, offsets**2)


def _pool(pieces: list[_Statistics], covariance_type: str) -> _Statistics:
    """Statistics of the union of the rows of ``pieces``, exactly."""
    if len(pieces) == 1:
        return pieces[0]
    resp_sums = np.stack([p.resp_sum for p in pieces])
    centres = np.stack([p.centres for p in pieces])
    resp_sum = resp_sums.sum(axis=0)
    weighted_sum = sum(p.weighted_sum for p in pieces)
    offsets = centres - _safe_centres(resp_sum, weighted_sum)
    scatter = sum(p.scatter for p in pieces) + _offset_scatter(
        resp_sums, offsets, covariance_type
    )
    unassigned = None
    if pieces[0].unassigned is not None:
        unassigned = sum(p.unassigned for p in pieces)
    return _Statistics(
        resp_sum,
        weighted_sum,
        scatter,
        unassigned,
        sum(p.log_prob_norm_sum for p in pieces),
        sum(p.resp_log_resp_sum for p in pieces),
    )


def _chunk_statistics(X, resp, covariance_type, unassigned) -> _Statistics:
    """Statistics of the rows ``X`` weighted by ``resp``, in float64.

    One pass of the in-memory fit's moment sums; for 'tied', the per
    component scatters summed (the rows' responsibilities need not sum to
    one here, the rest is in ``unassigned``).
    """
    X = np.asarray(X, dtype=np.float64)
    resp = np.asarray(resp, dtype=np.float64)
    moment_type = "full" if covariance_type == "tied" else covariance_type
    sums = gaussian_statistics(X, resp, moment_type, log=False)
    stats = _from_moments(sums, moment_type, 0.0)
    if covariance_type == "tied":
        stats.scatter = stats.scatter.sum(axis=0)
    if unassigned:
        rest = 1.0 - resp.sum(axis=1)
        stats.unassigned = (rest[:, np.newaxis] * X).T @ X
    return stats


# -- one block, one pass
class _EStep:
    """Responsibilities from the estimator's own E-step."""

    def __init__(self, estimator, entropy):
        self.estimator = estimator
        self.entropy = entropy

    def for_block(self, block_index):
        return self

    def __call__(self, chunk, rows):
        log_prob_norm, log_resp = self.estimator._estimate_log_prob_resp(chunk)
        resp = np.exp(log_resp)
        extra = {"log_prob_norm_sum": float(np.sum(log_prob_norm, dtype=np.float64))}
        if self.entropy:
            extra["resp_log_resp_sum"] = float(
                np.sum(resp * log_resp, dtype=np.float64)
            )
        return resp, extra


def _fused_statistics(block, estimator, covariance_type, entropy):
    """The block's statistics from one pass of the estimator's fused E-step.

    For the mixtures with the kernel EM steps of :mod:`sklearn_nsigma._em`:
    each chunk's responsibilities are added to the sums while they are in
    cache, as in the in-memory fit, and no (rows, K) array is formed. None
    for other mixtures (their ``_estimate_log_prob_resp`` is used instead).
    """
    if not (
        isinstance(block, np.ndarray)
        and hasattr(estimator, "_em_kernel")
        and hasattr(estimator, "_weighted_offsets")
    ):
        return None
    offsets = estimator._weighted_offsets(block.shape[1])
    kernel = estimator._em_kernel(block, offsets)
    moments = _Moments(block, estimator.n_components, covariance_type, entropy)
    total, sums = log_prob_resp(block, kernel, offsets, moments=moments)
    return _from_moments(sums, covariance_type, total)


def _from_moments(sums, covariance_type, log_prob_norm_sum) -> _Statistics:
    """:class:`_Statistics` from the sums about a centre ``c`` of ``_em``.

    ``first`` and ``second`` are moments of ``x - c``; the scatter about each
    component's own mean subtracts ``n_k o_k o_k^T``, ``o_k = first_k / n_k``
    (for tied, ``second`` is the scatter of all rows, whose
    responsibilities sum to one).
    """
    counts, first = sums["counts"], sums["first"]
    offsets = _safe_centres(counts, first)
    scatter = sums["second"] - _offset_scatter(
        counts[np.newaxis], offsets[np.newaxis], covariance_type
    )
    return _Statistics(
        counts,
        first + counts[:, np.newaxis] * sums["center"],
        scatter,
        log_prob_norm_sum=float(log_prob_norm_sum),
        resp_log_resp_sum=float(sums.get("entropy", 0.0)),
    )


def _chunk_rows(n_rows, n_features, n_components):
    """Rows per chunk: the responsibilities and a few (rows, d) temporaries."""
    row_bytes = 8 * (4 * n_components + 4 * n_features)
    return max(1, min(n_rows, _CHUNK_BYTES // row_bytes))


def _block_statistics(block, source, covariance_type, options):
    """Statistics of one block, computed where it lives, in chunks of rows.

    ``source`` gives the responsibilities of a chunk: a fitted mixture (its
    E-step) or one of the initialisation sources above.
    """
    n_components, check_finite, unassigned, entropy = options
    if check_finite and not np.isfinite(block).all():
        raise ValueError(
            "Input X contains NaN or infinity: every block of the Dask array "
            "must hold finite values."
        )
    if isinstance(source, GaussianMixture | BayesianGaussianMixture):
        fused = _fused_statistics(block, source, covariance_type, entropy)
        if fused is not None:
            return fused
        source = _EStep(source, entropy)
    n_rows, n_features = block.shape
    step = _chunk_rows(n_rows, n_features, n_components)
    pieces = []
    extras = {}
    for start in range(0, n_rows, step):
        rows = slice(start, min(n_rows, start + step))
        chunk = block[rows]
        resp, extra = source(chunk, rows)
        for name, value in extra.items():
            extras[name] = extras.get(name, 0.0) + value
        pieces.append(_chunk_statistics(chunk, resp, covariance_type, unassigned))
    stats = _pool(pieces, covariance_type)
    stats.log_prob_norm_sum = extras.get("log_prob_norm_sum", 0.0)
    stats.resp_log_resp_sum = extras.get("resp_log_resp_sum", 0.0)
    return stats


class _Blocks:
    """The blocks of a validated Dask array, and one pass over them."""

    def __init__(self, X):
        self.X = X
        self.delayed = list(X.to_delayed().ravel())
        self.offsets = np.concatenate([[0], np.cumsum(X.chunks[0])])

    def statistics(
        self,
        source,
        covariance_type,
        n_components,
        *,
        check_finite=False,
        unassigned=False,
        entropy=False,
    ) -> _Statistics:
        """One pass: the statistics of every block, pooled in block order."""
        import dask

        options = (n_components, check_finite, unassigned, entropy)
        if isinstance(source, GaussianMixture | BayesianGaussianMixture):
            # One graph key for the estimator, which every block task reads:
            # it is shipped to each worker once, not once per block.
            shared = dask.delayed(source, pure=False)
            sources = [shared] * len(self.delayed)
        else:
            sources = [source.for_block(b) for b in range(len(self.delayed))]
        tasks = [
            dask.delayed(_block_statistics, pure=False)(
                block, block_source, covariance_type, options
            )
            for block, block_source in zip(self.delayed, sources, strict=True)
        ]
        return _pool(list(dask.compute(*tasks)), covariance_type)


# -- from statistics to parameters -----------------------------------------
def _gaussian_parameters(stats, reg_covar, covariance_type, dtype):
    """``(nk, xk, sk)`` as scikit-learn's ``_estimate_gaussian_parameters``.

    The same formulas, from the pooled statistics: ``nk`` includes its
    ``10 * eps``, the means divide by it, and the tied and diag covariances
    keep the small terms that their uncentred formulas in scikit-learn imply
    (``eps * xk xk^T`` and, for tied, the rows whose responsibilities do
    not sum to one).
    """
    eps = 10 * np.finfo(dtype).eps
    nk = stats.resp_sum + eps
    xk = stats.weighted_sum / nk[:, np.newaxis]
    offsets = (stats.centres - xk)[np.newaxis]
    scatter = stats.scatter + _offset_scatter(
        stats.resp_sum[np.newaxis], offsets, covariance_type
    )
    n_features = xk.shape[1]
    if covariance_type == "full":
        sk = scatter / nk[:, np.newaxis, np.newaxis]
        sk += reg_covar * np.eye(n_features)
    elif covariance_type == "tied":
        sk = scatter + eps * (xk.T @ xk)
        if stats.unassigned is not None:
            sk += stats.unassigned
        sk /= nk.sum()
        sk += reg_covar * np.eye(n_features)
    else:
        sk = (scatter + eps * np.square(xk)) / nk[:, np.newaxis] + reg_covar
        if covariance_type == "spherical":
            sk = sk.mean(axis=1)
    return nk.astype(dtype), xk.astype(dtype), sk.astype(dtype)
