"""Dask scoring and fitting throughput on a LocalCluster, and worker memory.

Scoring: a lazily generated array of standard normal rows (4 x 10^7 rows,
d = 3, K = 4 by default) is persisted on a ``distributed.LocalCluster`` of
1, then 2, single-threaded worker processes, and ``predict_within(X,
3.0).sum()`` is timed alone. Its throughput per worker, in wall-clock time
and in the workers' CPU time, is compared with that of the same call on one
block in memory, on one thread, measured in between (interleaved).

Fit (``--fit``): EM with ``fit_dask`` on 2 single-threaded workers with
bounded memory, on a mixture (10^8 rows, d = 10, K = 8, float32 by
default) generated block by block on the workers and persisted once. The
initial parameters are given (``means_init``, ``weights_init``,
``precisions_init``) and ``tol=0``; every iteration is timed by the
estimator's own ``verbose=2`` output (the first, which holds the
initialisation, is dropped). The in-memory side runs the same estimator on
the rows of one worker (``rows / 2``), on one thread, interleaved with the
Dask runs. The CPU time per iteration is the difference between runs of
``1 + n`` and 1 iterations (the workers' CPU time, per worker, against the
in-memory process's). Worker memory is each worker process's peak
resident size (``getrusage``), after persisting and after the fits.

Usage::

    python benchmarks/bench_dask.py                  # scoring, 4 x 10^7 rows
    python benchmarks/bench_dask.py --block-rows 8000000
    python benchmarks/bench_dask.py --glibc-malloc-default
    python benchmarks/bench_dask.py --fit --repeats 2 --iterations 2  # 10^8 rows
    python benchmarks/bench_dask.py --fit --rows 4000000 --block-rows 500000
"""

import argparse
import contextlib
import io
import re
import time
import warnings

import dask
import dask.array as da
import numpy as np
from distributed import Client, LocalCluster, wait
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from sklearn_nsigma import NSigmaGaussianMixture, fit_dask


def timed(client, collection):
    start = time.perf_counter()
    client.compute(collection).result()
    return time.perf_counter() - start


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
    print(
        f"{args.rows:,} rows x {args.n_features} ({X.nbytes / 1e9:.1f} GB, "
        f"persisted on the workers), K = {args.n_components}, blocks of "
        f"{args.block_rows:,} rows; predict_within(X, 3.0).sum(); in memory: "
        "the same on one block, one thread"
    )
    print(
        "| workers | in memory M rows/s (wall / CPU) | Dask M rows/s | per worker, "
        "wall / in memory | per worker, CPU / in memory | peak RSS per worker (MiB) |"
    )
    print("|---|---|---|---|---|---|")
    for n_workers in (1, 2):
        with cluster(n_workers, args.memory_limit) as local, Client(local) as client:
            persisted = X.persist()
            wait(persisted)
            # one aggregation task: the tree of a default sum would add tasks
            scores = model.predict_within(persisted, 3.0).sum(
                split_every=persisted.numblocks[0]
            )
            timed(client, scores)  # warm up: the model reaches the workers
            wall, cpu, memory_wall, memory_cpu = [], [], [], []
            for _ in range(args.repeats):  # interleaved
                before = client.run(worker_cpu)
                wall.append(timed(client, scores))
                after = client.run(worker_cpu)
                cpu.append(sum(after[w] - before[w] for w in after))
                with threadpool_limits(1):
                    for _ in range(3):
                        start, start_cpu = time.perf_counter(), time.process_time()
                        model.predict_within(block, 3.0).sum()
                        memory_wall.append(time.perf_counter() - start)
                        memory_cpu.append(time.process_time() - start_cpu)
            peaks = client.run(worker_peak_rss)
            del persisted, scores
        rate = args.rows / np.median(wall) / 1e6
        rate_cpu = args.rows / np.median(cpu) / 1e6  # per worker, per CPU second
        memory_rate = len(block) / np.median(memory_wall) / 1e6
        memory_rate_cpu = len(block) / np.median(memory_cpu) / 1e6
        peak_text = ", ".join(f"{peaks[w] / 2**20:.0f}" for w in sorted(peaks))
        print(
            f"| {n_workers} | {memory_rate:.0f} / {memory_rate_cpu:.0f} "
            f"| {rate:.0f} | {rate / n_workers / memory_rate:.0%} "
            f"| {rate_cpu / memory_rate_cpu:.0%} | {peak_text} |"
        )


def mixture_block(block_id=None, block_info=None, *, means, scales):
    """Rows of one block of a Gaussian mixture, seeded by the block index.

    In the dtype of ``means`` (float32 halves the memory of the fit target).
    """
    rows = block_info[None]["chunk-shape"][0]
    rng = np.random.default_rng([1, block_id[0]])
    labels = rng.integers(0, len(means), size=rows)
    X = rng.standard_normal((rows, means.shape[1]), dtype=means.dtype)
    X *= scales[labels]
    X += means[labels]
    return X


def lazy_mixture(rows, block_rows, means, scales):
    n_blocks = -(-rows // block_rows)
    chunks = [block_rows] * (n_blocks - 1)
    chunks.append(rows - sum(chunks))
    return da.map_blocks(
        mixture_block,
        chunks=(tuple(chunks), (means.shape[1],)),
        dtype=means.dtype,
        means=means,
        scales=scales,
    )


def iteration_times(fit):
    """Seconds of each EM iteration after the first, from ``verbose=2``.

    The parent's verbose output times every iteration (E-step, M-step and
    lower bound); the first also holds the initialisation and is dropped.
    """
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        fit()
    times = [float(t) for t in re.findall(r"time lapse ([0-9.]+)s", buffer.getvalue())]
    return times[1:]


def worker_peak_rss(dask_worker=None):
    """Largest resident memory of this worker process so far, in bytes."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker_cpu(dask_worker=None):
    """CPU seconds used by this worker process so far (user + system)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_fit(args):
    d, k = args.n_features, args.n_components
    dtype = np.dtype(args.dtype)
    rng = np.random.RandomState(0)
    means = rng.uniform(-10, 10, size=(k, d)).astype(dtype)
    scales = rng.uniform(0.5, 2.0, size=(k, d)).astype(dtype)
    X = lazy_mixture(args.rows, args.block_rows, means, scales)
    start = dict(
        n_components=k,
        covariance_type="full",
        tol=0,
        max_iter=args.iterations + 1,
        verbose=2,
        verbose_interval=1,
        means_init=means + rng.normal(scale=0.5, size=means.shape),
        weights_init=np.full(k, 1 / k),
        precisions_init=np.stack([np.eye(d)] * k),
    )
    print(
        f"fit: {args.rows:,} rows x {d} {dtype} ({X.nbytes / 1e9:.1f} GB, "
        f"generated on the workers), K = {k}, full, blocks of "
        f"{args.block_rows:,} rows, 2 workers x 1 thread, memory_limit "
        f"{args.memory_limit} each; in memory: {args.rows // 2:,} rows, 1 thread"
    )
    warnings.simplefilter("ignore", ConvergenceWarning)
    half = args.rows // 2
    with cluster(2, args.memory_limit) as local, Client(local) as client:
        X = X.persist()
        wait(X)
        after_persist = client.run(worker_peak_rss)
        # the rows of one worker, in memory, generated block by block
        local_X = np.empty((half, d), dtype=dtype)
        offsets = np.cumsum((0,) + X.chunks[0])
        for b in range(int(np.searchsorted(offsets, half, side="left"))):
            stop = min(offsets[b + 1], half)
            local_X[offsets[b] : stop] = mixture_block(
                (b,),
                {None: {"chunk-shape": (X.chunks[0][b], d)}},
                means=means,
                scales=scales,
            )[: stop - offsets[b]]
        wall = {"dask": [], "memory": []}
        cpu = {"dask": [], "memory": []}
        n = args.iterations

        def fit_on_dask(max_iter):
            model = NSigmaGaussianMixture(**{**start, "max_iter": max_iter})
            return lambda: fit_dask(model, X)

        def fit_in_memory(max_iter):
            model = NSigmaGaussianMixture(**{**start, "max_iter": max_iter})
            return lambda: model.fit(local_X)

        for _ in range(args.repeats):  # interleaved
            seconds = {}
            for max_iter in (1, 1 + n):
                before = sum(client.run(worker_cpu).values())
                wall["dask"] += iteration_times(fit_on_dask(max_iter))
                seconds["dask", max_iter] = (
                    sum(client.run(worker_cpu).values()) - before
                )
                with threadpool_limits(1):
                    before = time.process_time()
                    wall["memory"] += iteration_times(fit_in_memory(max_iter))
                    seconds["memory", max_iter] = time.process_time() - before
            for side, workers in (("dask", 2), ("memory", 1)):
                extra = seconds[side, 1 + n] - seconds[side, 1]
                cpu[side].append(extra / n / workers)
        peaks = client.run(worker_peak_rss)
    persisted = X.nbytes / 2 / 2**20
    dask_s, memory_s = np.median(wall["dask"]), np.median(wall["memory"])
    dask_cpu, memory_cpu = np.median(cpu["dask"]), np.median(cpu["memory"])
    print(
        "| rows | Dask s/iteration (2 workers) | in memory s/iteration "
        "(rows / 2, 1 thread) | ratio | CPU s/iteration per worker, Dask "
        "/ in memory | persisted per worker (MiB) "
        "| peak RSS per worker after persist / after the fits (MiB) |"
    )
    print("|---|---|---|---|---|---|---|")
    peak_text = ", ".join(
        f"{after_persist[w] / 2**20:.0f} / {peaks[w] / 2**20:.0f}"
        for w in sorted(peaks)
    )
    print(
        f"| {args.rows:,} | {dask_s:.3f} | {memory_s:.3f} | {dask_s / memory_s:.2f} "
        f"| {dask_cpu:.3f} / {memory_cpu:.3f} = {dask_cpu / memory_cpu:.2f} "
        f"| {persisted:.0f} | {peak_text} |"
    )
    print(
        f"({len(wall['dask'])} and {len(wall['memory'])} iterations timed, "
        "medians; "
        f"block {args.block_rows * d * dtype.itemsize / 2**20:.0f} MiB)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", "--n-rows", type=int, default=None)
    parser.add_argument("--n-features", type=int, default=None)
    parser.add_argument("--n-components", type=int, default=None)
    parser.add_argument("--block-rows", type=int, default=2_000_000)
    parser.add_argument("--memory-limit", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fit", action="store_true", help="benchmark the fit")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--dtype", default=None, help="float32 (fit) or float64")
    parser.add_argument(
        "--glibc-malloc-default",
        action="store_true",
        help="start the workers without distributed's MALLOC_TRIM_THRESHOLD_=65536 "
        "(with it, every array over 128 KiB is freshly mapped and page-faulted)",
    )
    args = parser.parse_args()
    if args.glibc_malloc_default:
        key = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
        dask.config.set({key: None})
    if args.fit:
        args.n_features = args.n_features or 10
        args.n_components = args.n_components or 8
        args.memory_limit = args.memory_limit or "4.5GiB"
        args.rows = args.rows or 100_000_000
        args.dtype = args.dtype or "float32"
        bench_fit(args)
    else:
        args.n_features = args.n_features or 3
        args.n_components = args.n_components or 4
        args.memory_limit = args.memory_limit or "3GiB"
        args.rows = args.rows or 40_000_000
        bench_scoring(args)


if __name__ == "__main__":
    main()
