"""
=====================================================
Outlier detection in sigmas, compared with the others
=====================================================

:class:`~sklearn_nsigma.NSigmaOutlierDetector` flags a sample when it lies
outside the n-sigma ellipsoid of every (non-negligible) component of a
Gaussian mixture. This example compares it with scikit-learn's
:class:`~sklearn.covariance.EllipticEnvelope`,
:class:`~sklearn.ensemble.IsolationForest`,
:class:`~sklearn.neighbors.LocalOutlierFactor` (``novelty=True``) and
:class:`~sklearn.svm.OneClassSVM`, and, when they are installed,
scikit-lego's ``GMMOutlierDetector`` and PyOD's ``GMM``, on two labelled
data sets that need no download:

* **clusters + noise**: three elliptical Gaussian clusters in 2-D with 5 %
  of uniform noise, in the training set as well as in the test set;
* **digits, one class held out**: scikit-learn's bundled 8x8 digits,
  projected on 10 principal components; one digit is the anomaly class
  (2 % of the training set, 5 % of the test set). Each of the ten digits is
  held out in turn and the scores are averaged.

Every detector is fitted on the (contaminated) training set with its
default parameters and scored on a separate test set: ROC AUC of the outlier
score (threshold-free), F1 of the outlier class at the detector's default
threshold, the share of test samples flagged, and the fit and predict times.
"""

# %%
# Data
# ----
# ``NSIGMA_HELD_OUT_DIGITS`` lowers the number of digits held out in turn
# (10 by default), for a quick run.
import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.covariance import EllipticEnvelope
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.inspection import DecisionBoundaryDisplay
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import LocalOutlierFactor
from sklearn.svm import OneClassSVM

from sklearn_nsigma import NSigmaOutlierDetector


def clusters_with_noise(n_samples, contamination, seed):
    """Three elliptical clusters plus uniform noise; y = +1 / -1."""
    rng = np.random.RandomState(seed)
    clusters = [
        ([0.0, 0.0], [[2.0, 1.2], [1.2, 1.0]]),
        ([8.0, 3.0], [[0.5, 0.0], [0.0, 2.0]]),
        ([3.0, 9.0], [[1.5, -0.8], [-0.8, 1.0]]),
    ]
    X_in = np.concatenate(
        [rng.multivariate_normal(m, c, size=n_samples // 3) for m, c in clusters]
    )
    n_noise = int(contamination * len(X_in))
    X_out = rng.uniform(X_in.min(axis=0) - 3, X_in.max(axis=0) + 3, (n_noise, 2))
    y = np.r_[np.ones(len(X_in), dtype=int), -np.ones(n_noise, dtype=int)]
    return np.concatenate([X_in, X_out]), y


def digits_held_out(digit=0, train_contamination=0.02, test_contamination=0.05):
    """Digits: one class as the anomalies, mixed into train and test."""
    X, labels = load_digits(return_X_y=True)
    X_in, X_out = X[labels != digit], X[labels == digit]
    X_out = X_out[np.random.RandomState(0).permutation(len(X_out))]
    X_in_train, X_in_test = train_test_split(X_in, test_size=0.3, random_state=0)
    n_train = int(train_contamination * len(X_in_train))
    n_test = int(test_contamination * len(X_in_test))
    X_train = np.concatenate([X_in_train, X_out[:n_train]])
    X_test = np.concatenate([X_in_test, X_out[n_train : n_train + n_test]])
    y_train = np.r_[np.ones(len(X_in_train), dtype=int), -np.ones(n_train, dtype=int)]
    y_test = np.r_[np.ones(len(X_in_test), dtype=int), -np.ones(n_test, dtype=int)]
    return X_train, y_train, X_test, y_test


N_HELD_OUT = int(os.environ.get("NSIGMA_HELD_OUT_DIGITS", 10))
X_train, y_train = clusters_with_noise(1500, 0.05, seed=0)
X_test, y_test = clusters_with_noise(1500, 0.05, seed=1)
# Each data set is a list of (X_train, y_train, X_test, y_test) splits.
datasets = {
    "clusters + noise (2-D)": [(X_train, y_train, X_test, y_test)],
    "digits, 1 class held out (PCA 10-D)": [
        digits_held_out(digit) for digit in range(N_HELD_OUT)
    ],
}

# %%
# Detectors
# ---------
# Each detector runs with its defaults. ``NSigmaOutlierDetector()`` fits an
# ``NSigmaBayesianGaussianMixture(n_components=10)``, merges the components
# that one Gaussian cluster explains better, leaves out those no denser than
# uniform noise, re-estimates the others from their core samples
# (``robust="auto"``), and flags samples that are less likely than 3 sigma
# in one dimension (a 0.27 % tail, under each component's finite-sample
# predictive distribution) for every component holding at least 5 % of the
# training data. The second configuration,
# ``calibration="none"``, reads 3 sigma as the raw Mahalanobis radius: in 10
# dimensions its ellipsoid holds only 46.8 % of a Gaussian, so it flags
# about half of the inliers there. scikit-lego's and PyOD's detectors
# threshold the log-likelihood of a one-component GaussianMixture by default
# (the 99th percentile of the training scores, and contamination=0.1); they
# also run with 10 components, the size of our default mixture.
#
# Every detector is wrapped in ``to_outlier_api``, which returns an outlier
# score (higher = more abnormal) and a boolean "flagged" prediction, whatever
# the library's conventions (PyOD labels outliers 1 and inliers 0, and its
# scores grow with abnormality).


def sklearn_api(model):
    """Outlier API of scikit-learn: predict -1 / +1, decision higher = normal."""

    def score(X):
        return -model.decision_function(X)

    def flag(X):
        return model.predict(X) == -1

    return model, score, flag


def pyod_api(model):
    """PyOD: predict 1 for outliers, decision_function higher = abnormal."""
    return model, model.decision_function, lambda X: model.predict(X) == 1


def detectors(random_state=0):
    found = {
        "NSigmaOutlierDetector()": lambda: sklearn_api(
            NSigmaOutlierDetector(random_state=random_state)
        ),
        'NSigmaOutlierDetector(calibration="none")': lambda: sklearn_api(
            NSigmaOutlierDetector(calibration="none", random_state=random_state)
        ),
        "EllipticEnvelope": lambda: sklearn_api(
            EllipticEnvelope(random_state=random_state)
        ),
        "IsolationForest": lambda: sklearn_api(
            IsolationForest(random_state=random_state)
        ),
        "LocalOutlierFactor(novelty=True)": lambda: sklearn_api(
            LocalOutlierFactor(novelty=True)
        ),
        "OneClassSVM": lambda: sklearn_api(OneClassSVM()),
    }
    try:
        from sklego.mixture import GMMOutlierDetector
    except ImportError:
        print("scikit-lego is not installed: GMMOutlierDetector skipped")
    else:
        found["sklego GMMOutlierDetector"] = lambda: sklearn_api(
            GMMOutlierDetector(random_state=random_state)
        )
        found["sklego GMMOutlierDetector(n_components=10)"] = lambda: sklearn_api(
            GMMOutlierDetector(n_components=10, random_state=random_state)
        )
    try:
        from pyod.models.gmm import GMM
    except ImportError:
        print("PyOD is not installed: pyod GMM skipped")
    else:
        found["pyod GMM"] = lambda: pyod_api(GMM(random_state=random_state))
        found["pyod GMM(n_components=10)"] = lambda: pyod_api(
            GMM(n_components=10, random_state=random_state)
        )
    return found


# %%
# Scores
# ------
# The digits are projected on 10 principal components (fitted on the
# training set) before any detector sees them; the 2-D data are used as
# they are.
def evaluate(build, X_tr, X_te, y_te):
    """ROC AUC, F1, share flagged, fit and predict times of one detector."""
    model, score, flag = build()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings
        start = time.perf_counter()
        model.fit(X_tr)
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        flagged = flag(X_te)
        predict_time = time.perf_counter() - start
        outlier_score = score(X_te)
    values = (
        roc_auc_score(y_te == -1, outlier_score),
        f1_score(y_te == -1, flagged),
        flagged.mean(),
        fit_time,
        predict_time,
    )
    return model, values


rows = []
fitted = {}
for data_name, splits in datasets.items():
    results = {}
    for X_tr, _, X_te, y_te in splits:
        if X_tr.shape[1] > 10:
            pca = PCA(n_components=10, random_state=0).fit(X_tr)
            X_tr, X_te = pca.transform(X_tr), pca.transform(X_te)
        for name, build in detectors().items():
            model, values = evaluate(build, X_tr, X_te, y_te)
            results.setdefault(name, []).append(values)
            fitted[data_name, name] = model
    for name, values in results.items():
        rows.append((data_name, name, *np.mean(values, axis=0)))

header = ("data", "detector", "ROC AUC", "F1", "flagged", "fit (s)", "predict (s)")
print("| " + " | ".join(header) + " |")
print("|" + " --- |" * len(header))
for data_name, name, auc, f1_value, share, fit_time, predict_time in rows:
    print(
        f"| {data_name} | {name} | {auc:.3f} | {f1_value:.3f} | {share:.1%} "
        f"| {fit_time:.3f} | {predict_time:.4f} |"
    )

# %%
# Decision boundaries on the 2-D data
# -----------------------------------
# One ellipse per cluster for the n-sigma detector; a single ellipse for the
# EllipticEnvelope, which assumes one Gaussian.
data_name = "clusters + noise (2-D)"
X_tr, y_tr, X_te, y_te = datasets[data_name][0]
names = [
    "NSigmaOutlierDetector()",
    "EllipticEnvelope",
    "IsolationForest",
    "LocalOutlierFactor(novelty=True)",
]
fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 4), sharey=True)
for ax, name in zip(axes, names, strict=True):
    DecisionBoundaryDisplay.from_estimator(
        fitted[data_name, name],
        X_te,
        response_method="decision_function",
        plot_method="contour",
        levels=[0],
        colors="black",
        ax=ax,
    )
    ax.scatter(*X_te[y_te == 1].T, s=4, c="tab:blue", label="inlier")
    ax.scatter(*X_te[y_te == -1].T, s=8, c="tab:red", label="outlier")
    ax.set_title(name, fontsize=9)
axes[0].legend(loc="lower right")
fig.tight_layout()
plt.show()
