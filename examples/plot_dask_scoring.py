"""
=====================================================
Scoring data larger than memory on a Dask cluster
=====================================================

A mixture is fitted on a random sample, then scores 100 million rows (about
2.4 GB at d = 3) that never exist in memory at once: the rows are generated
lazily, block by block, on the workers of a ``dask.distributed`` cluster, and
each block is scored and reduced to a histogram as soon as it exists.

``predict_within``, ``mahalanobis``, ``tail_probability`` and the detector's
``predict``, ``decision_function``, ``score_samples`` and ``transform`` take
a Dask array chunked along rows and return a lazy Dask array. The fitted
model enters the task graph once and is shipped to each worker once.

On a multi-machine cluster, the only change is the address of the scheduler:
``Client("tcp://scheduler-host:8786")`` instead of ``LocalCluster``.

The number of rows can be lowered with the ``NSIGMA_DASK_ROWS`` environment
variable (the test suite runs this script on 2 million rows).
"""

# %%
# A lazy array of 100 million rows
# --------------------------------
# Each block is drawn from a 3-component Gaussian mixture with its own seed,
# so the array is reproducible and only ever exists one block at a time.
import os
import time

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from dask.distributed import Client, LocalCluster

from sklearn_nsigma import NSigmaGaussianMixture, sigma_to_coverage

N_ROWS = int(os.environ.get("NSIGMA_DASK_ROWS", 100_000_000))
BLOCK_ROWS = min(2_000_000, N_ROWS)
MEANS = np.array([[0.0, 0.0, 0.0], [8.0, 0.0, 2.0], [0.0, 9.0, -3.0]])
SCALES = np.array([[1.0, 0.5, 0.3], [2.0, 1.0, 1.0], [0.5, 0.5, 2.0]])
ROTATION = np.linalg.qr(np.random.RandomState(0).normal(size=(3, 3)))[0]


def mixture_block(block_id=None, block_info=None):
    """Rows of one block: a 3-component mixture, seeded by the block index."""
    rows = block_info[None]["chunk-shape"][0]
    rng = np.random.default_rng([0, block_id[0]])
    labels = rng.integers(0, 3, size=rows)
    X = rng.standard_normal((rows, 3)) * SCALES[labels]
    X = X @ ROTATION.T
    X += MEANS[labels]
    return X


n_blocks = -(-N_ROWS // BLOCK_ROWS)
chunks = ((BLOCK_ROWS,) * (n_blocks - 1) + (N_ROWS - BLOCK_ROWS * (n_blocks - 1),),)
X = da.map_blocks(mixture_block, chunks=(chunks[0], (3,)), dtype=np.float64)

# %%
# Fit on a random sample, score everything on the cluster
# -------------------------------------------------------
# Two worker processes with 1 GiB each: far less than the data. (The guard
# keeps the worker processes, which re-import this script, from running it.)
if __name__ == "__main__":
    print(f"X: {X.shape[0]:,} rows x {X.shape[1]}, {X.nbytes / 1e9:.1f} GB, lazy")
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            memory_limit="1GiB",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        sample_blocks = np.random.RandomState(0).choice(
            n_blocks, size=min(2, n_blocks), replace=False
        )
        sample = da.concatenate([X.blocks[i] for i in sample_blocks])[::50]
        model = NSigmaGaussianMixture(n_components=3, random_state=0)
        model.fit(sample.compute())
        print(f"fitted on {len(sample):,} sampled rows")

        # The distance of every row to its nearest component, as a histogram.
        nearest = da.sqrt(da.min(model.mahalanobis(X) ** 2, axis=1))
        edges = np.linspace(0, 5, 51)
        start = time.perf_counter()
        counts, _ = da.histogram(nearest, bins=edges)
        counts = client.compute(counts).result()
        seconds = time.perf_counter() - start
        print(
            f"scored {N_ROWS:,} rows in {seconds:.1f} s "
            f"({N_ROWS / seconds / 1e6:.1f} M rows/s, generation included)"
        )

    # %%
    # Coverage over all the rows
    # --------------------------
    # With well separated components, the share of rows within n sigma of
    # their nearest component follows the chi-square coverage in 3-D.
    observed = np.cumsum(counts) / N_ROWS
    for n in (1, 2, 3):
        print(
            f"within {n} sigma: {observed[edges[1:] == n][0]:.4f} "
            f"(chi2.cdf({n}^2, 3) = {sigma_to_coverage(n, 3):.4f})"
        )
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(edges[1:], observed, "o", ms=3, label=f"observed, {N_ROWS:,} rows")
    grid = np.linspace(0, 5, 200)
    ax.plot(grid, sigma_to_coverage(grid, 3), "k-", label="chi2.cdf(n^2, 3)")
    ax.set_xlabel("n (sigma)")
    ax.set_ylabel("fraction within n sigma")
    ax.legend()
    fig.tight_layout()
    plt.show()
