"""EM for Gaussian mixtures on row-chunked Dask arrays.

:func:`fit_dask` runs the loop of ``BaseMixture.fit_predict`` (``n_init``,
``warm_start``, ``tol``, ``max_iter``, ``verbose``, the convergence warning,
best of ``n_init``) on any :class:`~sklearn.mixture.GaussianMixture` or
:class:`~sklearn.mixture.BayesianGaussianMixture`, subclasses included,
without gathering ``X``. Each iteration is one pass over the blocks where
they live: every block runs the estimator's own E-step
(``_estimate_log_prob_resp``, so a faster subclass is faster here too) and
returns only its sufficient statistics. The M-step runs on the driver, on
the pooled statistics, with the parent class's own update code.

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

Dask is an optional dependency; this module imports it only when called.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits  # a scikit-learn dependency

from sklearn_nsigma._compat import (
    _check_feature_names,
    _check_n_features,
    _compute_precision_cholesky,
    _compute_precision_cholesky_from_precisions,
    get_namespace,
)

#: Dask configuration key read when ``persist=None``: set it to False, e.g.
#: ``dask.config.set({"sklearn_nsigma.fit.persist": False})``, to recompute
#: the blocks at every EM iteration instead of keeping them on the workers.
PERSIST_CONFIG_KEY = "sklearn_nsigma.fit.persist"

#: Rows of the sample the k-means initialisations use without dask-ml.
#: Arrays with at most this many rows are taken whole, in order: the
#: initialisation is then the one of the in-memory fit.
INIT_SAMPLE_ROWS = 100_000

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
    """Statistics of the rows ``X`` weighted by ``resp``, in float64."""
    X = np.asarray(X, dtype=np.float64)
    resp = np.asarray(resp, dtype=np.float64)
    resp_sum = resp.sum(axis=0)
    weighted_sum = resp.T @ X
    centres = _safe_centres(resp_sum, weighted_sum)
    n_components, n_features = weighted_sum.shape
    if covariance_type in ("full", "tied"):
        scatter = np.empty((n_components, n_features, n_features))
        for k in range(n_components):
            diff = X - centres[k]
            scatter[k] = (resp[:, k, np.newaxis] * diff).T @ diff
        if covariance_type == "tied":
            scatter = scatter.sum(axis=0)
    else:
        scatter = np.empty((n_components, n_features))
        for k in range(n_components):
            scatter[k] = resp[:, k] @ np.square(X - centres[k])
    extra = None
    if unassigned:
        rest = 1.0 - resp.sum(axis=1)
        extra = (rest[:, np.newaxis] * X).T @ X
    return _Statistics(resp_sum, weighted_sum, scatter, extra)


# -- where the responsibilities of a block come from ---------------------------
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


class _Ones:
    """A single component holding every row: the data's own moments."""

    def for_block(self, block_index):
        return self

    def __call__(self, chunk, rows):
        return np.ones((chunk.shape[0], 1)), {}


class _Given:
    """Responsibilities computed on the driver for every row (small arrays)."""

    def __init__(self, resp, offsets):
        self.resp = resp
        self.offsets = offsets

    def for_block(self, block_index):
        start, stop = self.offsets[block_index], self.offsets[block_index + 1]
        return _GivenBlock(self.resp[start:stop])


class _GivenBlock:
    def __init__(self, resp):
        self.resp = resp

    def __call__(self, chunk, rows):
        return self.resp[rows], {}


class _OneHot:
    """Responsibility 1 of component k for the k-th chosen row, 0 elsewhere."""

    def __init__(self, rows, offsets):
        self.rows = np.asarray(rows)
        self.offsets = offsets

    def for_block(self, block_index):
        start, stop = self.offsets[block_index], self.offsets[block_index + 1]
        inside = np.flatnonzero((self.rows >= start) & (self.rows < stop))
        return _OneHotBlock(len(self.rows), self.rows[inside] - start, inside)


class _OneHotBlock:
    def __init__(self, n_components, rows, components):
        self.n_components = n_components
        self.rows = rows
        self.components = components

    def __call__(self, chunk, rows):
        resp = np.zeros((chunk.shape[0], self.n_components))
        inside = (self.rows >= rows.start) & (self.rows < rows.stop)
        resp[self.rows[inside] - rows.start, self.components[inside]] = 1.0
        return resp, {}


class _Nearest:
    """Responsibility 1 for the nearest of the k-means centres."""

    def __init__(self, centres):
        self.centres = centres

    def for_block(self, block_index):
        return self

    def __call__(self, chunk, rows):
        from sklearn.metrics import pairwise_distances_argmin

        labels = pairwise_distances_argmin(chunk, self.centres)
        resp = np.zeros((chunk.shape[0], self.centres.shape[0]))
        resp[np.arange(chunk.shape[0]), labels] = 1.0
        return resp, {}


class _Uniform:
    """Random responsibilities, uniform then normalised, seeded per block."""

    def __init__(self, n_components, seeds):
        self.n_components = n_components
        self.seeds = seeds

    def for_block(self, block_index):
        return _UniformBlock(self.n_components, self.seeds[block_index])


class _UniformBlock:
    def __init__(self, n_components, seed):
        self.n_components = n_components
        self.seed = seed
        self.rng = None

    def __call__(self, chunk, rows):
        if rows.start == 0:
            self.rng = np.random.RandomState(self.seed)
        resp = self.rng.uniform(size=(chunk.shape[0], self.n_components))
        resp /= resp.sum(axis=1)[:, np.newaxis]
        return resp, {}


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


# -- from statistics to parameters ---------------------------------------------
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


def _m_step(estimator, nk, xk, sk) -> None:
    """The parent class's M-step, from ``(nk, xk, sk)`` instead of X."""
    if isinstance(estimator, BayesianGaussianMixture):
        estimator._estimate_weights(nk)
        estimator._estimate_means(nk, xk)
        estimator._estimate_precisions(nk, xk, sk)
        return
    estimator.weights_ = nk / np.sum(nk)
    estimator.means_ = xk
    estimator.covariances_ = sk
    estimator.precisions_cholesky_ = _compute_precision_cholesky(
        sk, estimator.covariance_type
    )


def _initialize(estimator, parameters, n_samples) -> None:
    """The parent class's ``_initialize``, from ``(nk, xk, sk)`` or None."""
    if isinstance(estimator, BayesianGaussianMixture):
        _m_step(estimator, *parameters)
        return
    weights, means, covariances = None, None, None
    if parameters is not None:
        weights, means, covariances = parameters
        weights = weights / n_samples
    if estimator.weights_init is not None:
        weights = estimator.weights_init
    estimator.weights_ = np.asarray(weights)
    estimator.means_ = means if estimator.means_init is None else estimator.means_init
    if estimator.precisions_init is None:
        estimator.covariances_ = covariances
        estimator.precisions_cholesky_ = _compute_precision_cholesky(
            covariances, estimator.covariance_type
        )
    else:
        xp, _ = get_namespace(estimator.precisions_init)
        estimator.precisions_cholesky_ = _compute_precision_cholesky_from_precisions(
            estimator.precisions_init, estimator.covariance_type, xp=xp
        )


def _lower_bound(estimator, stats, n_samples, dtype):
    """The parent's ``_compute_lower_bound``, from the pooled statistics.

    It is called with one zero log-responsibility, which makes the
    Bayesian entropy term ``-sum(r log r)`` zero; the pooled sum replaces it.
    """
    log_prob_norm = dtype(stats.log_prob_norm_sum / n_samples)
    bound = estimator._compute_lower_bound(np.zeros((1, 1), dtype=dtype), log_prob_norm)
    if isinstance(estimator, BayesianGaussianMixture):
        bound = bound - stats.resp_log_resp_sum
    return bound


def _moment_proxy(stats, dtype):
    """``d + 1`` rows with the mean and the covariance (ddof=1) of X.

    ``_check_parameters`` reads X only through its number of features, its
    mean and its covariance (the Bayesian priors); this small array gives it
    exactly those, so any subclass's own checks run unchanged.
    """
    n_samples = stats.resp_sum[0]
    mean = stats.weighted_sum[0] / n_samples
    covariance = stats.scatter[0] / max(n_samples - 1.0, 1.0)
    n_features = mean.shape[0]
    centring = np.eye(n_features + 1) - 1.0 / (n_features + 1)
    basis = np.linalg.svd(centring)[0][:, :n_features]
    values, vectors = np.linalg.eigh(covariance)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    return (mean + np.sqrt(n_features) * basis @ root.T).astype(dtype)


# -- initial responsibilities ------------------------------------------------
def _in_memory_resp(estimator, X, random_state):
    """The responsibilities of ``BaseMixture._initialize_parameters``.

    The same draws from ``random_state`` as the in-memory fit, for arrays
    small enough to be taken whole.
    """
    from sklearn.cluster import KMeans, kmeans_plusplus

    n_samples, n_components = X.shape[0], estimator.n_components
    resp = np.zeros((n_samples, n_components), dtype=X.dtype)
    if estimator.init_params == "kmeans":
        labels = (
            KMeans(n_clusters=n_components, n_init=1, random_state=random_state)
            .fit(X)
            .labels_
        )
        resp[np.arange(n_samples), labels] = 1
    elif estimator.init_params == "random":
        resp = random_state.uniform(size=(n_samples, n_components)).astype(X.dtype)
        resp /= resp.sum(axis=1)[:, np.newaxis]
    elif estimator.init_params == "random_from_data":
        indices = random_state.choice(n_samples, size=n_components, replace=False)
        resp[indices, np.arange(n_components)] = 1
    else:  # "k-means++"
        _, indices = kmeans_plusplus(X, n_components, random_state=random_state)
        resp[indices, np.arange(n_components)] = 1
    return resp


def _sample_block(block, seed, fraction):
    rows = np.flatnonzero(
        np.random.RandomState(seed).uniform(size=len(block)) < fraction
    )
    return rows, block[rows]


def _sample(blocks, random_state, n_rows):
    """About ``n_rows`` rows drawn uniformly on the workers, and their indices."""
    import dask

    seeds = random_state.randint(np.iinfo(np.int32).max, size=len(blocks.delayed))
    fraction = n_rows / blocks.offsets[-1]
    parts = dask.compute(
        *[
            dask.delayed(_sample_block, pure=False)(block, seed, fraction)
            for block, seed in zip(blocks.delayed, seeds, strict=True)
        ]
    )
    rows = np.concatenate(
        [rows + blocks.offsets[b] for b, (rows, _) in enumerate(parts)]
    )
    return rows, np.concatenate([sample for _, sample in parts])


def _initial_source(estimator, blocks, random_state):
    """Where the initial responsibilities of every block come from."""
    import dask

    n_samples, n_components = blocks.offsets[-1], estimator.n_components
    init = estimator.init_params
    if n_samples <= INIT_SAMPLE_ROWS:
        (X,) = dask.compute(blocks.X)
        return _Given(
            _in_memory_resp(estimator, np.asarray(X), random_state), blocks.offsets
        )
    if init == "random":
        seeds = random_state.randint(np.iinfo(np.int32).max, size=len(blocks.delayed))
        return _Uniform(n_components, seeds)
    if init == "random_from_data":
        rng = np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
        return _OneHot(
            rng.choice(n_samples, size=n_components, replace=False), blocks.offsets
        )
    if init == "kmeans":
        try:
            from dask_ml.cluster import KMeans as DistributedKMeans
        except ImportError:
            DistributedKMeans = None
        if DistributedKMeans is not None:
            # dask-ml runs scikit-learn's k-means steps in concurrent threads,
            # each of which sets and restores the BLAS thread limit: the last
            # to restore can leave the process at 1 thread. Restore the limits
            # found here once it is done.
            with threadpool_limits(limits=None):
                kmeans = DistributedKMeans(
                    n_clusters=n_components,
                    init="k-means||",
                    random_state=random_state.randint(np.iinfo(np.int32).max),
                ).fit(blocks.X)
            return _Nearest(np.asarray(kmeans.cluster_centers_))
    from sklearn.cluster import KMeans, kmeans_plusplus

    rows, sample = _sample(blocks, random_state, INIT_SAMPLE_ROWS)
    if init == "kmeans":
        kmeans = KMeans(n_clusters=n_components, n_init=1, random_state=random_state)
        return _Nearest(kmeans.fit(sample).cluster_centers_)
    _, indices = kmeans_plusplus(sample, n_components, random_state=random_state)
    return _OneHot(rows[indices], blocks.offsets)


# -- the fit -------------------------------------------------------------------
def _check_estimator(estimator):
    if not isinstance(estimator, GaussianMixture | BayesianGaussianMixture):
        raise TypeError(
            "estimator must be a GaussianMixture or a BayesianGaussianMixture "
            f"(or a subclass), got {type(estimator).__name__}."
        )


def validate_dask_data(estimator, X):
    """``validate_data(estimator, X)`` for a Dask array, without computing it.

    Checks that X is 2-D, real, chunked along rows only, with known chunk
    sizes and at least 2 rows; sets ``n_features_in_`` (and removes
    ``feature_names_in_``); returns X as float64, or float32 if it is.
    Non-finite values are found when the blocks are computed.
    """
    from sklearn_nsigma._dask import check_row_blocks

    where = f"{type(estimator).__name__}.fit()"
    check_row_blocks(X, where)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    n_samples = X.shape[0]
    if np.isnan(n_samples):
        raise ValueError(
            f"X has unknown chunk sizes in {where}; call X.compute_chunk_sizes() first."
        )
    if n_samples < 2:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={X.shape}) while a "
            f"minimum of 2 is required by {type(estimator).__name__}."
        )
    _check_feature_names(estimator, X, reset=True)
    _check_n_features(estimator, X, reset=True)
    return X


def _check_dask_X(estimator, X):
    X = validate_dask_data(estimator, X)
    if X.shape[0] < estimator.n_components:
        raise ValueError(
            "Expected n_samples >= n_components "
            f"but got n_components = {estimator.n_components}, "
            f"n_samples = {X.shape[0]}"
        )
    return X


def _resolve_persist(persist):
    if persist is not None:
        return bool(persist)
    import dask

    return bool(dask.config.get(PERSIST_CONFIG_KEY, default=True))


def fit_dask(estimator, X, y=None, *, persist: bool | None = None):
    """Fit a Gaussian mixture by EM on a Dask array chunked along rows.

    The same algorithm and the same answer as ``estimator.fit(X)`` on the
    data in memory (``n_init``, ``warm_start``, ``tol``, ``max_iter``,
    ``verbose``, the ``ConvergenceWarning``, best of ``n_init``), but ``X``
    is never gathered: each EM iteration maps the E-step over the blocks
    where they live and brings back only per-block sufficient statistics;
    the M-step runs on those. Runs on the active Dask scheduler (a
    ``distributed.Client`` if one is active).

    Parameters
    ----------
    estimator : GaussianMixture or BayesianGaussianMixture
        The mixture to fit, in place; subclasses included (their E-step,
        ``_estimate_log_prob_resp``, runs on every block).

    X : dask.array.Array of shape (n_samples, n_features)
        The data, chunked along rows only, with known chunk sizes. Integer
        data are cast to float64; float32 stays float32.

    y : Ignored
        Not used, present for API consistency by convention.

    persist : bool, default=None
        Whether to keep the blocks of X in the workers' memory during the
        fit (True), or to compute them again at every pass (False: for data
        larger than the cluster's memory, such as rows read from files or
        generated lazily). None reads the Dask configuration key
        ``"sklearn_nsigma.fit.persist"`` (default True), which is how
        ``NSigmaGaussianMixture.fit`` is told.

    Returns
    -------
    estimator : GaussianMixture or BayesianGaussianMixture
        The fitted estimator. If anything fails, it is left as it was.

    Notes
    -----
    Initialisation (``init_params``): arrays of at most
    ``INIT_SAMPLE_ROWS`` (100 000) rows are taken whole, and every method
    draws exactly what the in-memory fit draws. Larger arrays: ``"random"``
    draws each block's responsibilities from its own seed;
    ``"random_from_data"`` picks rows of the whole array; ``"kmeans"`` runs
    dask-ml's distributed k-means (k-means|| seeding) when dask-ml is
    installed, and otherwise scikit-learn's ``KMeans`` on a uniform sample
    of about 100 000 rows, whose centres then label every row;
    ``"k-means++"`` seeds on such a sample. ``weights_init``, ``means_init``
    and ``precisions_init`` work as in memory.

    The first pass over X checks that it is finite and computes its mean
    and covariance (the Bayesian mixture's default priors).

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture
    >>> from sklearn_nsigma import fit_dask
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(0, 1, (500, 2)), rng.normal(6, 1, (500, 2))])
    >>> X_dask = da.from_array(X, chunks=(250, 2))
    >>> gmm = fit_dask(GaussianMixture(2, random_state=0), X_dask)
    >>> in_memory = GaussianMixture(2, random_state=0).fit(X)
    >>> bool(np.allclose(gmm.means_, in_memory.means_, rtol=1e-10))
    True
    >>> gmm.n_iter_ == in_memory.n_iter_
    True
    """
    _check_estimator(estimator)
    estimator._validate_params()
    state = dict(estimator.__dict__)
    try:
        _fit(estimator, X, _resolve_persist(persist))
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(state)
        raise
    return estimator


def _fit(estimator, X, persist):
    X = _check_dask_X(estimator, X)
    dtype = X.dtype.type
    if persist:
        X = X.persist()
    blocks = _Blocks(X)
    n_samples = X.shape[0]
    n_components = estimator.n_components
    covariance_type = estimator.covariance_type
    moments = blocks.statistics(_Ones(), "full", 1, check_finite=True)
    proxy = _moment_proxy(moments, dtype)
    estimator._check_parameters(proxy, xp=get_namespace(proxy)[0])

    bayesian = isinstance(estimator, BayesianGaussianMixture)
    needs_resp = bayesian or (
        estimator.weights_init is None
        or estimator.means_init is None
        or estimator.precisions_init is None
    )
    do_init = not (estimator.warm_start and hasattr(estimator, "converged_"))
    n_init = estimator.n_init if do_init else 1
    max_lower_bound = -np.inf
    best_lower_bounds = []
    estimator.converged_ = False
    random_state = check_random_state(estimator.random_state)

    for init in range(n_init):
        estimator._print_verbose_msg_init_beg(init)
        if do_init:
            parameters = None
            if needs_resp:
                stats = blocks.statistics(
                    _initial_source(estimator, blocks, random_state),
                    covariance_type,
                    n_components,
                    unassigned=covariance_type == "tied",
                )
                parameters = _gaussian_parameters(
                    stats, estimator.reg_covar, covariance_type, dtype
                )
            _initialize(estimator, parameters, n_samples)

        lower_bound = -np.inf if do_init else estimator.lower_bound_
        current_lower_bounds = []
        if estimator.max_iter == 0:
            best_params = estimator._get_parameters()
            best_n_iter = 0
        else:
            converged = False
            for n_iter in range(1, estimator.max_iter + 1):
                prev_lower_bound = lower_bound
                stats = blocks.statistics(
                    estimator, covariance_type, n_components, entropy=bayesian
                )
                _m_step(
                    estimator,
                    *_gaussian_parameters(
                        stats, estimator.reg_covar, covariance_type, dtype
                    ),
                )
                lower_bound = _lower_bound(estimator, stats, n_samples, dtype)
                current_lower_bounds.append(lower_bound)
                change = lower_bound - prev_lower_bound
                estimator._print_verbose_msg_iter_end(n_iter, change)
                if abs(change) < estimator.tol:
                    converged = True
                    break
            estimator._print_verbose_msg_init_end(lower_bound, converged)
            if lower_bound > max_lower_bound or max_lower_bound == -np.inf:
                max_lower_bound = lower_bound
                best_params = estimator._get_parameters()
                best_n_iter = n_iter
                best_lower_bounds = current_lower_bounds
                estimator.converged_ = converged

    if not estimator.converged_ and estimator.max_iter > 0:
        warnings.warn(
            "Best performing initialization did not converge. "
            "Try different init parameters, or increase max_iter, "
            "tol, or check for degenerate data.",
            ConvergenceWarning,
            stacklevel=3,
        )
    estimator._set_parameters(best_params)
    estimator.n_iter_ = best_n_iter
    estimator.lower_bound_ = max_lower_bound
    estimator.lower_bounds_ = best_lower_bounds


def fit_predict_dask(estimator, X, y=None, *, persist: bool | None = None):
    """Fit as :func:`fit_dask`, and return the lazy labels of X.

    The labels are computed block by block by ``estimator.predict`` when
    the returned Dask array is computed (the final E-step of
    ``fit_predict``).

    Parameters
    ----------
    estimator : GaussianMixture or BayesianGaussianMixture
        The mixture to fit, in place.

    X : dask.array.Array of shape (n_samples, n_features)
        The data, chunked along rows only.

    y : Ignored
        Not used, present for API consistency by convention.

    persist : bool, default=None
        As in :func:`fit_dask`.

    Returns
    -------
    labels : dask.array.Array of shape (n_samples,)
        Component labels, lazy.
    """
    from sklearn_nsigma._dask import map_row_blocks

    fit_dask(estimator, X, y, persist=persist)
    return map_row_blocks(estimator, "predict", X, n_columns=None, dtype=np.int64)
