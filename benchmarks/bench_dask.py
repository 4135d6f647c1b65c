"""Dask scoring and fitting throughput on a LocalCluster, and worker memory.

Scoring: a lazily generated array of standard normal rows (d = 3, K = 4 by
default) is scored by ``predict_within`` on a ``distributed.LocalCluster`` of
1, then 2, single-threaded worker processes. Generation is part of every
task, so the script also times generation alone (``X.sum()``) and reports the
scoring throughput from the difference, next to the in-memory throughput of
the same method on one block, on one thread.

Fit (``--fit``): EM on a lazily generated mixture (d = 10, K = 8 by default)
with ``fit_dask`` on 2 single-threaded workers with bounded memory. The
initial parameters are given (``means_init``, ``weights_init``,
``precisions_init``) and ``tol=0``, so every run does exactly ``max_iter``
iterations; the time of one iteration is the difference between runs of
``1 + n`` and ``1`` iterations, divided by ``n`` (generating and persisting
the blocks cancel out). It is compared with the in-memory per-iteration time
of the same estimator on the rows of one worker (``rows / 2``), on one
thread. Peak worker memory is the largest process memory sampled by
``distributed.diagnostics.MemorySampler``, summed over workers.

Usage::

    python benchmarks/bench_dask.py                      # scoring, 10^8 rows
    python benchmarks/bench_dask.py --rows 20000000
    python benchmarks/bench_dask.py --fit --rows 100000000   # the fit target
    python benchmarks/bench_dask.py --fit --rows 4000000 --block-rows 500000
"""

import argparse
import time
import warnings

import dask
import dask.array as da
import numpy as np
from distributed import Client, LocalCluster
from distributed.diagnostics import MemorySampler
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from sklearn_nsigma import NSigmaGaussianMixture, fit_dask


def timed(client, collection):
    start = time.perf_counter()
    client.compute(collection).result()
    return time.perf_counter() - start


def best_of(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def cluster(n_workers, memory_limit):
    return LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        memory_limit=memory_limit,
        dashboard_address=None,
    )


def bench_scoring(args):
    X = da.random.default_rng(0).standard_normal(
        (args.rows, args.n_features), chunks=(args.block_rows, args.n_features)
    )
    sample = X[: min(200_000, args.rows)].compute()
    model = NSigmaGaussianMixture(args.n_components, random_state=0).fit(sample)
    block = X[: args.block_rows].compute()
    with threadpool_limits(1):
        in_memory = best_of(lambda: model.predict_within(block, 3.0), args.repeats)
    in_memory_rate = len(block) / in_memory / 1e6
    print(
        f"{args.rows:,} rows x {args.n_features} ({X.nbytes / 1e9:.1f} GB, lazy), "
        f"K = {args.n_components}, blocks of {args.block_rows:,} rows; "
        f"in memory, one thread: {in_memory * 1e3:.1f} ms per block, "
        f"{in_memory_rate:.1f} M rows/s"
    )
    print(
        "| workers | generate only (s) | generate + predict_within (s) "
        "| scoring M rows/s | per worker / in memory | end-to-end M rows/s "
        "| peak worker memory (MB) |"
    )
    print("|---|---|---|---|---|---|---|")
    for n_workers in (1, 2):
        with cluster(n_workers, args.memory_limit) as local, Client(local) as client:
            timed(client, X[: args.block_rows].sum())  # warm up the workers
            generate = min(timed(client, X.sum()) for _ in range(args.repeats))
            sampler = MemorySampler()
            with sampler.sample("scoring", measure="process"):
                total = min(
                    timed(client, model.predict_within(X, 3.0).sum())
                    for _ in range(args.repeats)
                )
            peak = sampler.to_pandas()["scoring"].max() / 2**20
        scoring = max(total - generate, 1e-9)
        rate = args.rows / scoring / 1e6
        print(
            f"| {n_workers} | {generate:.2f} | {total:.2f} | {rate:.1f} "
            f"| {rate / n_workers / in_memory_rate:.0%} "
            f"| {args.rows / total / 1e6:.1f} | {peak:.0f} |"
        )


def mixture_block(block_id=None, block_info=None, *, means, scales):
    """Rows of one block of a Gaussian mixture, seeded by the block index."""
    rows = block_info[None]["chunk-shape"][0]
    rng = np.random.default_rng([1, block_id[0]])
    labels = rng.integers(0, len(means), size=rows)
    X = rng.standard_normal((rows, means.shape[1])) * scales[labels]
    X += means[labels]
    return X


def bench_fit(args):
    d, k = args.n_features, args.n_components
    rng = np.random.RandomState(0)
    means = rng.uniform(-10, 10, size=(k, d))
    scales = rng.uniform(0.5, 2.0, size=(k, d))
    n_blocks = -(-args.rows // args.block_rows)
    chunks = [args.block_rows] * (n_blocks - 1)
    chunks.append(args.rows - sum(chunks))
    X = da.map_blocks(
        mixture_block,
        chunks=(tuple(chunks), (d,)),
        dtype=np.float64,
        means=means,
        scales=scales,
    )
    start = dict(
        n_components=k,
        covariance_type="full",
        tol=0,
        means_init=means + rng.normal(scale=0.5, size=means.shape),
        weights_init=np.full(k, 1 / k),
        precisions_init=np.stack([np.eye(d)] * k),
    )
    print(
        f"fit: {args.rows:,} rows x {d} ({X.nbytes / 1e9:.1f} GB, lazy), K = {k}, "
        f"full, blocks of {args.block_rows:,} rows, 2 workers x 1 thread, "
        f"memory_limit {args.memory_limit}, persist={not args.no_persist}"
    )
    warnings.simplefilter("ignore", ConvergenceWarning)
    n = args.iterations
    with cluster(2, args.memory_limit) as local, Client(local) as client:
        timed(client, X[: args.block_rows].sum())  # warm up the workers
        sampler = MemorySampler()
        runs = {}
        with sampler.sample("fit", measure="process"):
            for max_iter in (1, 1 + n):
                model = NSigmaGaussianMixture(max_iter=max_iter, **start)
                runs[max_iter] = best_of(
                    lambda m=model: fit_dask(m, X, persist=not args.no_persist),
                    args.repeats,
                )
        peak = sampler.to_pandas()["fit"].max() / 2**20
    per_iteration = (runs[1 + n] - runs[1]) / n
    half = X[: args.rows // 2].compute()
    with threadpool_limits(1), dask.config.set(scheduler="synchronous"):
        memory_runs = {
            max_iter: best_of(
                lambda m=max_iter: NSigmaGaussianMixture(max_iter=m, **start).fit(half),
                args.repeats,
            )
            for max_iter in (1, 1 + n)
        }
    in_memory = (memory_runs[1 + n] - memory_runs[1]) / n
    print(
        "| rows | Dask s/iteration (2 workers) | in memory s/iteration "
        "(rows / 2, 1 thread) | ratio | fit with 1 iteration (s) "
        "| persisted GB | peak worker memory (MB, sum) |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {args.rows:,} | {per_iteration:.3f} | {in_memory:.3f} "
        f"| {per_iteration / in_memory:.2f} | {runs[1]:.2f} "
        f"| {0 if args.no_persist else X.nbytes / 1e9:.2f} | {peak:.0f} |"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", "--n-rows", type=int, default=100_000_000)
    parser.add_argument("--n-features", type=int, default=None)
    parser.add_argument("--n-components", type=int, default=None)
    parser.add_argument("--block-rows", type=int, default=2_000_000)
    parser.add_argument("--memory-limit", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fit", action="store_true", help="benchmark the fit")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--no-persist", action="store_true")
    args = parser.parse_args()
    if args.fit:
        args.n_features = args.n_features or 10
        args.n_components = args.n_components or 8
        args.memory_limit = args.memory_limit or "6GiB"
        bench_fit(args)
    else:
        args.n_features = args.n_features or 3
        args.n_components = args.n_components or 4
        args.memory_limit = args.memory_limit or "2GiB"
        bench_scoring(args)


if __name__ == "__main__":
    main()
