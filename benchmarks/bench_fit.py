"""Fit speed of the kernel EM against scikit-learn's, with the same answer.

Each case fits scikit-learn's mixture and this package's subclass to the same
data from the same initialisation, with ``tol=0`` and a fixed ``max_iter`` so
that both run exactly the same iterations, and reports the median wall time
of ``fit`` over repeats (the two sides interleaved), the speed-up, the time
per EM iteration against the GEMM-rate limit (an E-step and an M-step each
need about ``2 N K d^2`` flops for ``full`` covariances), the peak memory
allocated during ``fit`` (``tracemalloc``, which sees NumPy's allocations)
and the largest relative difference of the fitted parameters. The time per
iteration is the marginal one, ``(t(max_iter) - t(1)) / (max_iter - 1)``,
from a third, one-iteration fit of ours in every repeat: what each further
iteration costs, without the validation, initialisation and final E-step
every fit pays once.

    python benchmarks/bench_fit.py            # N = 1e6, about 10 minutes
    python benchmarks/bench_fit.py --quick    # N = 1e5, about a minute
    python benchmarks/bench_fit.py --detector # the default detector's fit

``--detector`` times ``NSigmaOutlierDetector().fit`` on three clusters with
2 % of uniform noise (1e6 rows in 2 and 10 dimensions, 2e5 in 50), against
the same detector on the mixture it used to default to, scikit-learn's
``tol=1e-3`` on a Bayesian lower bound that is a sum over the samples.

Everything runs on one thread (``threadpoolctl.threadpool_limits(1)``)
unless ``--threads`` says otherwise; ``--threads 2`` shows what a second core
adds. Timings on a shared machine are noisy: the machine's load average
(1 minute) before and after each case is printed next to it; run it more than
once, and read the ratios rather than the absolute times.
"""

import argparse
import os
import statistics
import time
import tracemalloc
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture
from threadpoolctl import threadpool_limits

from sklearn_nsigma import NSigmaBayesianGaussianMixture, NSigmaGaussianMixture

PAIRS = {
    "GaussianMixture": (GaussianMixture, NSigmaGaussianMixture),
    "BayesianGaussianMixture": (BayesianGaussianMixture, NSigmaBayesianGaussianMixture),
}
ATTRIBUTES = ("weights_", "means_", "covariances_", "precisions_cholesky_")


def make_data(n_samples, n_features, n_components, seed=0):
    """A mixture of K Gaussians with random covariances, away from the origin."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(n_components, n_features)) + 10.0
    labels = rng.integers(n_components, size=n_samples)
    mixing = rng.normal(size=(n_components, n_features, n_features)) / np.sqrt(
        n_features
    )
    X = rng.standard_normal((n_samples, n_features))
    for k in range(n_components):
        rows = labels == k
        X[rows] = X[rows] @ mixing[k] + centers[k]
    return X


def init_params(X, n_components, covariance_type, seed=0):
    """weights_init, means_init and precisions_init: a fixed starting point."""
    rng = np.random.default_rng(seed)
    n_features = X.shape[1]
    means = X[rng.choice(X.shape[0], n_components, replace=False)]
    variance = X.var(axis=0).mean()
    precisions = {
        "full": np.tile(np.eye(n_features) / variance, (n_components, 1, 1)),
        "tied": np.eye(n_features) / variance,
        "diag": np.full((n_components, n_features), 1 / variance),
        "spherical": np.full(n_components, 1 / variance),
    }[covariance_type]
    return {
        "weights_init": np.full(n_components, 1 / n_components),
        "means_init": means,
        "precisions_init": precisions,
    }


def make_estimator(cls, kind, n_components, covariance_type, max_iter, X):
    params = dict(
        n_components=n_components,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=max_iter,
        random_state=0,
    )
    if kind == "GaussianMixture":
        params.update(init_params(X, n_components, covariance_type))
    else:
        params["init_params"] = "random_from_data"
    return cls(**params)


def timed_fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X)
        return time.perf_counter() - start


def peak_memory(estimator, X):
    """Peak bytes allocated during fit, above what was allocated before."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        estimator.fit(X)
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    return peak


def max_relative_difference(a, b):
    worst = abs(a.lower_bound_ - b.lower_bound_) / abs(a.lower_bound_)
    for name in ATTRIBUTES:
        x = np.asarray(getattr(a, name), dtype=np.float64)
        y = np.asarray(getattr(b, name), dtype=np.float64)
        worst = max(worst, float(np.max(np.abs(x - y)) / np.max(np.abs(x))))
    return worst


def gemm_rate(repeats=3):
    """Flops per second of a large square matrix product (one thread here)."""
    a = np.random.default_rng(0).standard_normal((1000, 1000))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - start)
    return 2 * 1000**3 / min(times)


def run_case(kind, n_samples, n_features, n_components, cov, max_iter, repeats):
    load_before = os.getloadavg()[0]
    X = make_data(n_samples, n_features, n_components)
    parent_cls, ours_cls = PAIRS[kind]
    sides = (
        ("parent", parent_cls, max_iter),
        ("ours", ours_cls, max_iter),
        ("ours_1", ours_cls, 1),
    )
    times = {name: [] for name, _, _ in sides}
    rates = []
    fitted = {}
    for _ in range(repeats):
        rates.append(gemm_rate())
        for name, cls, iterations in sides:
            est = make_estimator(cls, kind, n_components, cov, iterations, X)
            times[name].append(timed_fit(est, X))
            fitted[name] = est
    parent, ours = fitted["parent"], fitted["ours"]
    assert parent.n_iter_ == ours.n_iter_ == max_iter
    t_parent = statistics.median(times["parent"])
    t_ours = statistics.median(times["ours"])
    per_iteration = max(
        statistics.median(
            mine - one for mine, one in zip(times["ours"], times["ours_1"], strict=True)
        )
        / max(1, max_iter - 1),
        0.0,
    )
    memory = {
        name: peak_memory(make_estimator(cls, kind, n_components, cov, max_iter, X), X)
        for name, cls in (("parent", parent_cls), ("ours", ours_cls))
    }
    # the GEMM rate measured in every repeat, next to the fits: on a loaded
    # machine it moves with them
    rate = statistics.median(rates)
    limit = 2 * 2 * n_samples * n_components * n_features**2 / rate
    return {
        "case": f"{kind} {cov} N={n_samples:.0e} d={n_features} K={n_components}",
        "parent_s": t_parent,
        "ours_s": t_ours,
        "speedup": t_parent / t_ours,
        "ours_ms_per_iter": 1e3 * per_iteration,
        "limit_ms_per_iter": 1e3 * limit,
        "rate": rate,
        "parent_MB": memory["parent"] / 2**20,
        "ours_MB": memory["ours"] / 2**20,
        "resp_MB": n_samples * n_components * 8 / 2**20,
        "max_rel_diff": max_relative_difference(parent, ours),
        "load": f"{load_before:.1f}-{os.getloadavg()[0]:.1f}",
    }


def detector_fit(repeats):
    """The default detector's fit, and its EM iterations, with both tolerances."""
    from sklearn_nsigma import NSigmaOutlierDetector

    rng = np.random.RandomState(0)
    print(f"{'rows x features':<18}{'tol':<22}{'fit s':>8}{'EM iter':>9}{'robust':>8}")
    for n_samples, n_features in ((1_000_000, 2), (1_000_000, 10), (200_000, 50)):
        centres = rng.uniform(-6, 6, (3, n_features))
        parts = [c + rng.normal(size=(n_samples // 3, n_features)) for c in centres]
        parts.append(rng.uniform(-10, 10, (n_samples // 50, n_features)))
        X = np.concatenate(parts)
        variants = {
            "1e-3 * n_samples": NSigmaOutlierDetector(random_state=0),
            "1e-3 (class default)": NSigmaOutlierDetector(
                NSigmaBayesianGaussianMixture(n_components=10, random_state=0)
            ),
        }
        for tol, detector in variants.items():
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    detector.fit(X)
                times.append(time.perf_counter() - start)
            print(
                f"{f'{len(X)} x {n_features}':<18}{tol:<22}"
                f"{statistics.median(times):>8.2f}{detector.estimator_.n_iter_:>9}"
                f"{detector.n_robust_iter_:>8}",
                flush=True,
            )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1e5 (1e6 default)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-iter", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--only", default="", help="run the cases whose name contains this text"
    )
    parser.add_argument(
        "--detector", action="store_true", help="only the default detector's fit"
    )
    args = parser.parse_args(argv)
    if args.detector:
        with threadpool_limits(args.threads):
            detector_fit(args.repeats)
        return
    n_samples = 100_000 if args.quick else 1_000_000
    cases = [
        ("GaussianMixture", n_samples, 10, 8, "full"),
        ("GaussianMixture", n_samples, 3, 4, "full"),
        ("GaussianMixture", n_samples, 3, 4, "diag"),
        ("BayesianGaussianMixture", n_samples, 10, 8, "full"),
        ("BayesianGaussianMixture", n_samples, 3, 4, "full"),
    ]
    with threadpool_limits(args.threads):
        print(f"threads={args.threads} repeats={args.repeats} max_iter={args.max_iter}")
        header = (
            f"{'case':<48}{'sklearn s':>10}{'ours s':>9}{'x':>7}"
            f"{'ms/iter':>9}{'limit':>7}{'/limit':>7}{'MB skl':>8}{'MB ours':>8}"
            f"{'(n,K)':>7}{'rel diff':>10}{'GFLOP/s':>8}{'load':>10}"
        )
        print(header)
        for case in cases:
            kind, n, d, k, cov = case
            if args.only not in f"{kind} {cov} d={d} K={k}":
                continue
            r = run_case(*case, args.max_iter, args.repeats)
            print(
                f"{r['case']:<48}{r['parent_s']:>10.2f}{r['ours_s']:>9.2f}"
                f"{r['speedup']:>7.1f}{r['ours_ms_per_iter']:>9.1f}"
                f"{r['limit_ms_per_iter']:>7.1f}"
                f"{r['ours_ms_per_iter'] / r['limit_ms_per_iter']:>7.1f}"
                f"{r['parent_MB']:>8.0f}"
                f"{r['ours_MB']:>8.0f}{r['resp_MB']:>7.0f}{r['max_rel_diff']:>10.1e}"
                f"{r['rate'] / 1e9:>8.1f}{r['load']:>10}",
                flush=True,
            )


if __name__ == "__main__":
    main()
