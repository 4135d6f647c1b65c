"""Initial responsibilities of a Dask fit, without gathering X.

Each source gives the responsibilities of a chunk of rows of one block
(``source.for_block(b)(chunk, rows)``); :func:`_initial_source` picks the
one that reproduces ``init_params``: the in-memory draws for small arrays,
per-block seeds for ``"random"``, rows of the whole array for
``"random_from_data"``, a distributed k-means (dask-ml) or a uniform sample
for ``"kmeans"`` and ``"k-means++"``.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits  # a scikit-learn dependency

#: Rows of the sample the k-means initialisations use without dask-ml.
#: Arrays with at most this many rows are taken whole, in order: the
#: initialisation is then the one of the in-memory fit.
INIT_SAMPLE_ROWS = 100_000


# -- sources of responsibilities ----------------------------------------------
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
