"""
=================================================
What "3 sigma" holds in 1, 2, 3 and 10 dimensions
=================================================

In one dimension, 99.73 % of a Gaussian lies within 3 standard deviations
of its mean. In d dimensions, the squared Mahalanobis distance of a sample
follows a chi-square distribution with d degrees of freedom, so the
3-sigma ellipsoid holds ``chi2.cdf(9, d)``: 98.9 % in 2-D, 97.1 % in 3-D
and only 46.8 % in 10-D. This example measures it on samples, then uses the
same curve as a diagnostic of a poorly fitted mixture.
"""

# %%
# Observed against chi-square
# ---------------------------
# For each dimension, 4000 samples of a Gaussian with a random covariance,
# one fitted component, and the fraction of samples within n sigma for every
# n (:class:`~sklearn_nsigma.CoverageDisplay`), next to ``chi2.cdf(n**2, d)``.
import matplotlib.pyplot as plt
import numpy as np

from sklearn_nsigma import (
    CoverageDisplay,
    NSigmaGaussianMixture,
    coverage_to_sigma,
    sigma_to_coverage,
)

rng = np.random.RandomState(0)
dimensions = (1, 2, 3, 10)
fig, axes = plt.subplots(
    1, 4, figsize=(14, 3.8), sharey=True, layout="constrained", squeeze=False
)
print("d   within 3 sigma: observed  chi2.cdf(9, d)   radius holding 99.73 %")
for ax, d in zip(axes[0], dimensions, strict=True):
    A = rng.normal(size=(d, d))
    X = rng.multivariate_normal(np.zeros(d), A @ A.T + 0.1 * np.eye(d), 4000)
    gmm = NSigmaGaussianMixture(random_state=0).fit(X)
    observed = gmm.predict_within(X, n_sigma=3).mean()
    expected = sigma_to_coverage(3, d)
    radius = coverage_to_sigma(sigma_to_coverage(3, 1), d)
    print(f"{d:<3} {observed:27.3f}  {expected:14.3f}   {radius:10.2f} sigma")
    display = CoverageDisplay.from_estimator(
        gmm, X, n_sigma=np.linspace(0, 6, 121), ax=ax, legend=False
    )
    ax.axvline(3, color="0.5", linestyle=":")
    ax.set_title(f"d = {d}: {100 * expected:.1f} % within 3 sigma")
    if d != dimensions[0]:
        ax.set_ylabel("")
axes[0, -1].legend(
    [display.expected_line_, display.lines_[0]],
    ["chi2.cdf(n², d)", "observed"],
    loc="lower right",
)

# %%
# To keep the 1-D meaning of "3 sigma" (99.73 %) in d dimensions, threshold
# at ``coverage_to_sigma(0.9973, d)``, or give ``coverage=0.9973`` to
# :class:`~sklearn_nsigma.NSigmaOutlierDetector`.
#
# A diagnostic of the fit
# -----------------------
# The same curve, per component and weighted by responsibilities, tells when
# the mixture is wrong. Three cases in 2-D:
#
# - a good fit follows the chi-square curve;
# - one component for two clusters (K too small): the centre of its ellipse
#   is empty, so too few samples lie within small radii, and the tails are
#   too light (the curve crosses the expectation);
# - a heavy-tailed cluster (Student t, 3 degrees of freedom): too many
#   samples near the centre, and too many far out (the curve ends below 1
#   at large n).
two_clusters = np.concatenate(
    [rng.normal(-3, 1, (1000, 2)), rng.normal(3, 1, (1000, 2))]
)
heavy = rng.standard_t(3, size=(2000, 2))
cases = {
    "two clusters, K = 2 (good)": (two_clusters, 2),
    "two clusters, K = 1 (too few)": (two_clusters, 1),
    "Student t, K = 1 (heavy tails)": (heavy, 1),
}
fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True, layout="constrained")
for ax, (title, (X, k)) in zip(axes, cases.items(), strict=True):
    gmm = NSigmaGaussianMixture(n_components=k, random_state=0).fit(X)
    CoverageDisplay.from_estimator(gmm, X, ax=ax)
    ax.set_title(title)
    if ax is not axes[0]:
        ax.set_ylabel("")
plt.show()
