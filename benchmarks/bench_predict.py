"""Throughput of n-sigma scoring against scikit-learn and the peers.

Fits one model per configuration and times, on the same fitted model and the
same data, the median of several repeats of:

* ``GaussianMixture.predict`` and ``GaussianMixture.score_samples``;
* ``EllipticEnvelope.predict`` (one Gaussian; K = 1 rows only);
* scikit-lego's ``GMMOutlierDetector.predict`` and PyOD's ``GMM.predict``
  when those packages are installed;
* our ``predict_within`` and ``mahalanobis``, with the kernel that NumPy
  input normally takes (the compiled one when it is built), and
  ``predict_within`` once more with the NumPy kernel for comparison;

next to the machine's limit for that shape: the larger of (a) the time to read
X once and write the output of ``predict_within``, and (b) 2*N*K*d^2 FLOPs at
the GEMM rate measured on a large square matrix product in the same dtype.
Everything runs on one thread (``threadpool_limits(1)``) unless ``--threads``
is given; ``--threads`` also prints the 1-thread vs n-thread comparison.
Peak extra memory is measured with tracemalloc (NumPy reports its buffers to
it): the peak during the call minus what was allocated before it, next to the
size of the output.

Usage::

    python benchmarks/bench_predict.py                   # the full table
    python benchmarks/bench_predict.py --quick           # a smaller table
    python benchmarks/bench_predict.py --memory          # N = 10 million memory check
    python benchmarks/bench_predict.py --threads 2       # 1 vs 2 threads
    python benchmarks/bench_predict.py --instruction-set avx2  # not the CPU's best

``SKLEARN_NSIGMA_KERNEL=numpy`` in the environment makes the NumPy kernel the
one measured everywhere.
"""

import argparse
import gc
import importlib.util
import time
import tracemalloc
import warnings

import numpy as np
from sklearn.covariance import EllipticEnvelope
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from sklearn_nsigma import NSigmaGaussianMixture
from sklearn_nsigma._distance import (
    _ckernel,
    compiled_kernel_available,
    use_compiled_kernel,
)

FULL_CONFIGS = [
    (d, k, "full", dtype)
    for dtype in ("float64", "float32")
    for d in (2, 3, 10, 32)
    for k in (1, 4, 16)
] + [(10, 4, "diag", "float64"), (10, 4, "tied", "float64")]

QUICK_CONFIGS = [
    (3, 4, "full", "float64"),
    (3, 4, "full", "float32"),
    (10, 1, "full", "float32"),
    (10, 4, "full", "float64"),
    (32, 16, "full", "float64"),
    (10, 4, "diag", "float64"),
    (10, 4, "tied", "float64"),
]


def median_time(func, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def gemm_rate(dtype, size=2048):
    """FLOP/s of a large square matrix product (the BLAS peak, roughly)."""
    rng = np.random.RandomState(0)
    A = rng.normal(size=(size, size)).astype(dtype)
    out = np.empty_like(A)
    np.matmul(A, A, out=out)
    seconds = median_time(lambda: np.matmul(A, A, out=out), 5)
    return 2 * size**3 / seconds


def memory_limit_time(X, repeats):
    """Time to read X once and write a boolean per row."""
    out = np.empty(X.shape[0], dtype=bool)
    flat = X.reshape(-1)  # a streaming, vectorised pass over every value
    read = median_time(lambda: np.maximum.reduce(flat), repeats)
    write = median_time(lambda: out.fill(True), repeats)
    return read + write


def peak_extra_bytes(func):
    """Peak bytes allocated during func beyond what existed before it."""
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    baseline, _ = tracemalloc.get_traced_memory()
    result = func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak - baseline, result


def make_data(n_samples, n_features, n_components, dtype, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.uniform(-10, 10, size=(n_components, n_features))
    labels = rng.randint(n_components, size=n_samples)
    X = rng.normal(size=(n_samples, n_features))
    X += centers[labels]
    return X.astype(dtype)


def fit_model(X, n_components, covariance_type):
    model = NSigmaGaussianMixture(
        n_components=n_components,
        covariance_type=covariance_type,
        random_state=0,
        max_iter=20,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X[:20_000])
    return model


def peer_detectors(model, X_fit):
    """Peers fitted on the same sample, when installed."""
    peers = {}
    k = model.n_components
    if k == 1:
        peers["EllipticEnvelope.predict"] = EllipticEnvelope(
            random_state=0, support_fraction=1.0
        ).fit(X_fit[:5000])
    if importlib.util.find_spec("sklego") is not None:
        from sklego.mixture import GMMOutlierDetector

        peers["sklego GMMOutlierDetector.predict"] = GMMOutlierDetector(
            n_components=k, random_state=0, max_iter=20
        ).fit(X_fit)
    if importlib.util.find_spec("pyod") is not None:
        from pyod.models.gmm import GMM

        peers["pyod GMM.predict"] = GMM(n_components=k, random_state=0).fit(X_fit)
    return peers


def run_config(d, k, covariance_type, dtype, n_samples, repeats, rate):
    X = make_data(n_samples, d, k, dtype)
    model = fit_model(X, k, covariance_type)
    plain = GaussianMixture(**model.get_params())
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        setattr(plain, name, getattr(model, name))
    plain.precisions_ = model.precisions_
    plain.n_features_in_ = d
    plain.converged_ = True

    ours_within = median_time(lambda: model.predict_within(X, 3.0), repeats)
    ours_distance = median_time(lambda: model.mahalanobis(X), repeats)
    with use_compiled_kernel(False):
        numpy_within = median_time(lambda: model.predict_within(X, 3.0), repeats)
    rows = {
        "GaussianMixture.predict": median_time(lambda: plain.predict(X), repeats),
        "GaussianMixture.score_samples": median_time(
            lambda: plain.score_samples(X), repeats
        ),
    }
    for name, peer in peer_detectors(model, X[:20_000]).items():
        rows[name] = median_time(lambda peer=peer: peer.predict(X), repeats)

    memory = memory_limit_time(X, repeats)
    flops = 2 * n_samples * k * d * d / rate[dtype]
    limit = max(memory, flops)
    extra, _ = peak_extra_bytes(lambda: model.predict_within(X, 3.0))
    return {
        "config": f"d={d:<2} K={k:<2} {covariance_type:<4} {dtype}",
        "within": ours_within,
        "mahalanobis": ours_distance,
        "numpy_within": numpy_within,
        "peers": rows,
        "limit": limit,
        "limit_kind": "flops" if flops > memory else "memory",
        "extra_mb": extra / 2**20,
        "n_samples": n_samples,
    }


def print_table(results):
    print(
        "| config | predict_within Mrows/s | x GM.predict | x GM.score_samples "
        "| mahalanobis Mrows/s | limit Mrows/s (bound) | within / limit "
        "| peak extra MB | NumPy-kernel predict_within Mrows/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        n = r["n_samples"]
        peers = r["peers"]
        print(
            f"| {r['config']} | {n / r['within'] / 1e6:.1f} "
            f"| {peers['GaussianMixture.predict'] / r['within']:.1f} "
            f"| {peers['GaussianMixture.score_samples'] / r['within']:.1f} "
            f"| {n / r['mahalanobis'] / 1e6:.1f} "
            f"| {n / r['limit'] / 1e6:.1f} ({r['limit_kind']}) "
            f"| {r['within'] / r['limit']:.2f} | {r['extra_mb']:.1f} "
            f"| {n / r['numpy_within'] / 1e6:.1f} |"
        )
    others = sorted(
        {name for r in results for name in r["peers"]}
        - {"GaussianMixture.predict", "GaussianMixture.score_samples"}
    )
    if others:
        print("\nPeers, speed-up of predict_within over each (same data, same K):")
        for r in results:
            cells = [
                f"{name}: {r['peers'][name] / r['within']:.1f}x"
                for name in others
                if name in r["peers"]
            ]
            if cells:
                print(f"  {r['config']}: " + ", ".join(cells))


def memory_check(n_samples):
    """Peak extra memory of predict_within and mahalanobis at large N."""
    X = make_data(n_samples, 3, 4, "float64")
    model = fit_model(X, 4, "full")
    for name, call, output in [
        ("predict_within", lambda: model.predict_within(X, 3.0), n_samples),
        ("mahalanobis", lambda: model.mahalanobis(X), n_samples * 4 * 8),
    ]:
        extra, _ = peak_extra_bytes(call)
        print(
            f"N={n_samples:,} d=3 K=4 {name}: peak extra {extra / 2**20:.1f} MB, "
            f"output {output / 2**20:.1f} MB, beyond the output "
            f"{(extra - output) / 2**20:.1f} MB"
        )


def thread_check(n_threads, n_samples, repeats):
    X = make_data(n_samples, 10, 4, "float64")
    model = fit_model(X, 4, "full")
    for threads in (1, n_threads):
        with threadpool_limits(threads):
            seconds = median_time(lambda: model.predict_within(X, 3.0), repeats)
        print(
            f"d=10 K=4 float64, {threads} thread(s): predict_within "
            f"{n_samples / seconds / 1e6:.1f} Mrows/s"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a smaller table")
    parser.add_argument("--memory", action="store_true", help="N = 10 million check")
    parser.add_argument("--threads", type=int, default=0, help="compare 1 vs n")
    parser.add_argument(
        "--instruction-set",
        default=None,
        help="run the compiled kernel with this instruction set (avx512f, avx2, "
        "generic) instead of the CPU's best",
    )
    args = parser.parse_args()
    with use_compiled_kernel(
        args.instruction_set is not None or compiled_kernel_available(),
        args.instruction_set,
    ):
        run(args)


def run(args):
    """The check or the table the command line asks for."""
    if args.memory:
        memory_check(10_000_000)
        return
    if args.threads:
        thread_check(args.threads, args.n_samples, args.repeats)
        return
    configs = QUICK_CONFIGS if args.quick else FULL_CONFIGS
    results = []
    with threadpool_limits(1):
        rate = {dtype: gemm_rate(dtype) for dtype in ("float64", "float32")}
        kernel = (
            f"compiled ({args.instruction_set or _ckernel.instruction_set()})"
            if compiled_kernel_available()
            else "NumPy"
        )
        print(f"Kernel: {kernel}")
        print(
            f"GEMM rate (1 thread): float64 {rate['float64'] / 1e9:.1f} GFLOP/s, "
            f"float32 {rate['float32'] / 1e9:.1f} GFLOP/s; N = {args.n_samples:,}\n"
        )
        for d, k, covariance_type, dtype in configs:
            results.append(
                run_config(
                    d, k, covariance_type, dtype, args.n_samples, args.repeats, rate
                )
            )
            print(f"  done {results[-1]['config']}", flush=True)
    print()
    print_table(results)


if __name__ == "__main__":
    main()
