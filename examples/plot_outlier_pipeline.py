"""
======================================================================
Outlier filtering in a pipeline, before a supervised model, and search
======================================================================

:class:`~sklearn_nsigma.NSigmaOutlierDetector` is a scikit-learn outlier
detector: it goes at the end of a :class:`~sklearn.pipeline.Pipeline`, its
``decision_function`` ("sigmas to spare") works with scikit-learn's
displays, and its threshold ``n_sigma`` is a hyper-parameter that
:class:`~sklearn.model_selection.GridSearchCV` can search on labelled data.
:class:`~sklearn_nsigma.NSigmaOutlierFilter` drops the outlier rows of a
training set before a supervised model is fitted.
"""

# %%
# Data: a regression with corrupted training rows
# -----------------------------------------------
# Two clusters of features; the target is linear in them. 5 % of the
# training rows are corrupted: far-off features and a wrong target (think
# of a unit error at data entry). The test set is clean.
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import TwoSlopeNorm
from sklearn.inspection import DecisionBoundaryDisplay
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nsigma import (
    NSigmaOutlierDetector,
    NSigmaOutlierFilter,
    make_outlier_scorer,
)

rng = np.random.RandomState(0)


def make_data(n_samples, contamination=0.0):
    first = rng.multivariate_normal([0, 0], [[4, 1.8], [1.8, 1]], n_samples // 2)
    second = rng.multivariate_normal([6, -2], [[1, -0.5], [-0.5, 1]], n_samples // 2)
    X = np.concatenate([first, second])
    y = 3 * X[:, 0] - 2 * X[:, 1] + rng.normal(0, 1, len(X))
    is_outlier = rng.uniform(size=len(X)) < contamination
    X[is_outlier] = rng.uniform([-10, -12], [16, 10], size=(is_outlier.sum(), 2))
    y[is_outlier] = rng.uniform(-60, 60, size=is_outlier.sum())
    return X, y, np.where(is_outlier, -1, 1)


X_train, y_train, outlier_train = make_data(1000, contamination=0.05)
X_test, y_test, _ = make_data(1000)

# %%
# The detector in a pipeline
# --------------------------
# Standardise, then flag the rows beyond 3 sigma of both components. The
# pipeline is an outlier detector: ``predict`` returns +1 / -1 and
# ``decision_function`` is the number of sigmas to spare, 0 on the boundary.
detector = make_pipeline(
    StandardScaler(),
    NSigmaOutlierDetector(GaussianMixture(n_components=2, random_state=0)),
)
flags = detector.fit(X_train).predict(X_train)
print(
    f"flagged {np.sum(flags == -1)} training rows; "
    f"{np.sum((flags == -1) & (outlier_train == -1))} of the "
    f"{np.sum(outlier_train == -1)} corrupted ones"
)

fig, ax = plt.subplots(figsize=(6.5, 5), layout="constrained")
display = DecisionBoundaryDisplay.from_estimator(
    detector,
    X_train,
    response_method="decision_function",
    plot_method="contourf",
    levels=np.linspace(-8, 3, 12),
    cmap="RdBu",
    norm=TwoSlopeNorm(vmin=-8, vcenter=0, vmax=3),
    alpha=0.6,
    ax=ax,
)
ax.contour(display.xx0, display.xx1, display.response, levels=[0], colors="black")
ax.scatter(*X_train.T, c=np.where(flags == 1, "0.3", "crimson"), s=8)
fig.colorbar(display.surface_, ax=ax, label="sigmas to spare (decision_function)")
ax.set_title("Pipeline(StandardScaler, NSigmaOutlierDetector): 3-sigma boundary")

# %%
# Before a supervised model
# -------------------------
# A least-squares fit is pulled by the corrupted rows. Dropping the rows
# that lie outside 3 sigma of the features' mixture, before the fit, gives
# back most of the lost accuracy. (In an ``imblearn.pipeline.Pipeline``,
# ``NSigmaOutlierFilter`` does this at fit time only, so that the pipeline
# still predicts every row.)
X_kept, y_kept = NSigmaOutlierFilter(
    NSigmaOutlierDetector(GaussianMixture(n_components=2, random_state=0))
).fit_resample(X_train, y_train)
scores = {
    "all training rows": r2_score(
        y_test, LinearRegression().fit(X_train, y_train).predict(X_test)
    ),
    "rows within 3 sigma": r2_score(
        y_test, LinearRegression().fit(X_kept, y_kept).predict(X_test)
    ),
    "clean rows (oracle)": r2_score(
        y_test,
        LinearRegression()
        .fit(X_train[outlier_train == 1], y_train[outlier_train == 1])
        .predict(X_test),
    ),
}
print(f"kept {len(X_kept)} of {len(X_train)} training rows")
for name, score in scores.items():
    print(f"test R2, linear regression on {name:20}: {score:.3f}")

# %%
# Searching n_sigma
# -----------------
# With labels (+1 clean, -1 corrupted), GridSearchCV searches the threshold.
# ``make_outlier_scorer("f1")`` scores the outliers as the positive class,
# and stratified, shuffled folds keep corrupted rows in every fold. The
# mixture does not depend on the threshold: with ``memory``, it is fitted
# once per fold rather than once per candidate.
with tempfile.TemporaryDirectory() as cache:
    search = GridSearchCV(
        detector.set_params(nsigmaoutlierdetector__memory=cache),
        {"nsigmaoutlierdetector__n_sigma": [1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0]},
        scoring=make_outlier_scorer("f1"),
        cv=StratifiedKFold(5, shuffle=True, random_state=0),
    ).fit(X_train, outlier_train)
n_sigma = search.cv_results_["param_nsigmaoutlierdetector__n_sigma"].astype(float)
mean = search.cv_results_["mean_test_score"]
std = search.cv_results_["std_test_score"]
print(f"best: {search.best_params_}, F1 = {search.best_score_:.3f}")

fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
ax.plot(n_sigma, mean, marker="o")
ax.fill_between(n_sigma, mean - std, mean + std, alpha=0.2)
ax.set_xlabel("n_sigma")
ax.set_ylabel("F1 of the outlier class (5-fold CV)")
ax.set_title("GridSearchCV over n_sigma")
plt.show()
