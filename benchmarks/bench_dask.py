"""Rows per second of lazy Dask scoring with 1 and 2 workers, and worker memory.

A lazily generated array of standard normal rows (d = 3 by default) is
scored by ``predict_within`` on a ``distributed.LocalCluster`` of 1, then 2,
single-threaded worker processes. Generation is part of every task, so the
script also times generation alone (``X.sum()``) and reports the scoring
throughput from the difference. Peak worker memory is the largest
process memory sampled by ``distributed.diagnostics.MemorySampler`` during
the scoring run, summed over workers.

Usage::

    python benchmarks/bench_dask.py                  # 10^8 rows, d = 3, K = 4
    python benchmarks/bench_dask.py --n-rows 20000000
"""

import argparse
import time

import dask.array as da
from distributed import Client, LocalCluster
from distributed.diagnostics import MemorySampler

from sklearn_nsigma import NSigmaGaussianMixture


def timed(client, collection):
    start = time.perf_counter()
    client.compute(collection).result()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-rows", type=int, default=100_000_000)
    parser.add_argument("--n-features", type=int, default=3)
    parser.add_argument("--n-components", type=int, default=4)
    parser.add_argument("--block-rows", type=int, default=2_000_000)
    args = parser.parse_args()

    X = da.random.default_rng(0).standard_normal(
        (args.n_rows, args.n_features), chunks=(args.block_rows, args.n_features)
    )
    sample = X[: min(200_000, args.n_rows)].compute()
    model = NSigmaGaussianMixture(args.n_components, random_state=0).fit(sample)
    print(
        f"{args.n_rows:,} rows x {args.n_features} ({X.nbytes / 1e9:.1f} GB, lazy), "
        f"K = {args.n_components}, blocks of {args.block_rows:,} rows"
    )
    print(
        "| workers | generate only (s) | generate + predict_within (s) "
        "| scoring M rows/s | end-to-end M rows/s | peak worker memory (MB) |"
    )
    print("|---|---|---|---|---|---|")
    for n_workers in (1, 2):
        with (
            LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                memory_limit="2GiB",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            timed(client, X[: args.block_rows].sum())  # warm up the workers
            generate = timed(client, X.sum())
            sampler = MemorySampler()
            with sampler.sample("scoring", measure="process"):
                total = timed(client, model.predict_within(X, 3.0).sum())
            peak = sampler.to_pandas()["scoring"].max() / 2**20
        scoring = max(total - generate, 1e-9)
        print(
            f"| {n_workers} | {generate:.1f} | {total:.1f} "
            f"| {args.n_rows / scoring / 1e6:.1f} | {args.n_rows / total / 1e6:.1f} "
            f"| {peak:.0f} |"
        )


if __name__ == "__main__":
    main()
