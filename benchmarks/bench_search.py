"""Cost of a GridSearchCV over n_sigma: 10 thresholds against 1.

The mixture does not depend on the threshold. With ``memory=`` the detector
caches its fitted mixture (as :class:`sklearn.pipeline.Pipeline` caches its
transformers), so a search fits it once per split (and once for the final
refit) whatever the number of ``n_sigma`` values; each further candidate
costs a cache look-up (hashing the training fold) and a predict. Without a
cache, every candidate refits the mixture on every split.

Run::

    python benchmarks/bench_search.py
    python benchmarks/bench_search.py --n-samples 50000 --estimator gmm

It prints the best-of-``--repeats`` wall time of each search and the ratio
of the 10-value to the 1-value search, with and without the cache, and
exits with status 1 if the cached ratio exceeds ``--max-ratio`` (1.5).
"""

import argparse
import sys
import tempfile
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_nsigma import NSigmaOutlierDetector, make_outlier_scorer

N_SIGMAS = np.linspace(1.5, 6.0, 10).round(2).tolist()


def make_data(n_samples, n_features, n_clusters=3, contamination=0.02, seed=0):
    """Elliptical Gaussian clusters plus uniform noise; y = +1 / -1."""
    rng = np.random.RandomState(seed)
    n_outliers = int(contamination * n_samples)
    n_inliers = n_samples - n_outliers
    sizes = np.full(n_clusters, n_inliers // n_clusters)
    sizes[: n_inliers - sizes.sum()] += 1
    clusters = []
    for size in sizes:
        center = rng.uniform(-10, 10, n_features)
        shape = rng.normal(size=(n_features, n_features)) / np.sqrt(n_features)
        clusters.append(center + rng.normal(size=(size, n_features)) @ shape)
    X_in = np.concatenate(clusters)
    low, high = X_in.min(axis=0) - 2, X_in.max(axis=0) + 2
    X_out = rng.uniform(low, high, size=(n_outliers, n_features))
    X = np.concatenate([X_in, X_out])
    y = np.r_[np.ones(n_inliers, dtype=int), -np.ones(n_outliers, dtype=int)]
    order = rng.permutation(n_samples)
    return X[order], y[order]


def make_detector(estimator, memory):
    if estimator == "gmm":
        mixture = GaussianMixture(n_components=3, random_state=0)
        return NSigmaOutlierDetector(mixture, memory=memory)
    return NSigmaOutlierDetector(random_state=0, memory=memory)


def time_search(X, y, n_sigmas, *, estimator, cached, n_splits, repeats):
    """Best wall time of ``repeats`` searches, each with a fresh cache."""
    best = np.inf
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as location:
            search = GridSearchCV(
                make_detector(estimator, location if cached else None),
                {"n_sigma": n_sigmas},
                scoring=make_outlier_scorer("f1"),
                cv=StratifiedKFold(n_splits, shuffle=True, random_state=0),
            )
            start = time.perf_counter()
            search.fit(X, y)
            best = min(best, time.perf_counter() - start)
    return best, search.best_params_["n_sigma"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=20_000)
    parser.add_argument("--n-features", type=int, default=8)
    parser.add_argument("--n-splits", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--estimator",
        choices=["default", "gmm"],
        default="default",
        help="the default BayesianGaussianMixture(10), or GaussianMixture(3)",
    )
    parser.add_argument("--max-ratio", type=float, default=1.5)
    args = parser.parse_args(argv)

    X, y = make_data(args.n_samples, args.n_features)
    print(
        f"X: {X.shape}, {(y == -1).sum()} outliers; estimator: {args.estimator}; "
        f"{args.n_splits}-fold GridSearchCV; best of {args.repeats}"
    )
    ratios = {}
    for cached in (True, False):
        times = {}
        for n_values in (1, 10):
            grid = N_SIGMAS if n_values == 10 else [3.0]
            seconds, best = time_search(
                X,
                y,
                grid,
                estimator=args.estimator,
                cached=cached,
                n_splits=args.n_splits,
                repeats=args.repeats,
            )
            times[n_values] = seconds
            label = "memory=<dir>" if cached else "memory=None "
            print(
                f"{label}  {n_values:2d} n_sigma value(s): {seconds:7.2f} s "
                f"(best n_sigma {best})"
            )
        ratios[cached] = times[10] / times[1]
    print(f"ratio 10 / 1 with memory:    {ratios[True]:.2f}")
    print(f"ratio 10 / 1 without memory: {ratios[False]:.2f}")
    return 0 if ratios[True] <= args.max_ratio else 1


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sys.exit(main())
