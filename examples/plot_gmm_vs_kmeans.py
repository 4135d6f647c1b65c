"""
=============================================
Why a Gaussian mixture, and not K-means
=============================================

K-means assigns every point to the nearest centre in Euclidean distance, so
its clusters are convex cells of similar extent in every direction. When
clusters are elongated and tilted, it cuts them across. A Gaussian mixture
models each cluster with its own covariance: its clusters are ellipses, and
the n-sigma ellipse of each component shows both the shape it learned and
where the cluster ends.
"""

# %%
# Elongated, tilted clusters
# --------------------------
# Three clusters stretched by the same linear map (as in scikit-learn's
# "Demonstration of k-means assumptions").
import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from sklearn_nsigma import EllipseDisplay, NSigmaGaussianMixture

X, y = make_blobs(n_samples=600, centers=3, random_state=170)
X = X @ np.array([[0.60, -0.64], [-0.41, 0.85]])

# %%
# K-means against the mixture
# ---------------------------
# Both look for three clusters. The adjusted Rand index (ARI) compares each
# partition with the truth: 1 is perfect, 0 is chance.
kmeans = KMeans(n_clusters=3, n_init=10, random_state=0).fit(X)
gmm = NSigmaGaussianMixture(n_components=3, random_state=0).fit(X)
ari_kmeans = adjusted_rand_score(y, kmeans.labels_)
ari_gmm = adjusted_rand_score(y, gmm.predict(X))
print(f"adjusted Rand index: K-means {ari_kmeans:.2f}, Gaussian mixture {ari_gmm:.2f}")

fig, (ax_kmeans, ax_gmm) = plt.subplots(
    1, 2, figsize=(10, 4.6), sharex=True, sharey=True, layout="constrained"
)
ax_kmeans.scatter(*X.T, c=kmeans.labels_, cmap="tab10", vmin=0, vmax=9, s=8)
ax_kmeans.scatter(
    *kmeans.cluster_centers_.T, marker="+", color="black", s=120, linewidths=2
)
ax_kmeans.set_title(f"K-means cuts the clusters across (ARI {ari_kmeans:.2f})")
ax_kmeans.set_xlabel("feature 0")
ax_kmeans.set_ylabel("feature 1")
EllipseDisplay.from_estimator(gmm, X, color_by="component", ax=ax_gmm)
ax_gmm.set_title(f"Gaussian mixture: 1, 2, 3-sigma ellipses (ARI {ari_gmm:.2f})")

# %%
# Where each cluster ends
# -----------------------
# New points: fresh samples of the same clusters and a few scattered ones,
# coloured by whether they lie within 3 sigma of some component. In 2-D the
# 3-sigma ellipse holds 98.9 % of a Gaussian (``sigma_to_coverage(3, 2)``),
# so about one fresh sample in a hundred falls outside too.
rng = np.random.RandomState(0)
X_new, _ = make_blobs(n_samples=300, centers=3, random_state=170)
X_new = X_new[rng.permutation(300)] @ np.array([[0.60, -0.64], [-0.41, 0.85]])
scattered = rng.uniform(X.min(axis=0) - 1, X.max(axis=0) + 1, size=(15, 2))
points = np.concatenate([X_new, scattered])
inside = gmm.predict_within(points, n_sigma=3)
print(
    f"outside every 3-sigma ellipse: {np.sum(~inside[:300])} of 300 cluster "
    f"samples, {np.sum(~inside[300:])} of {len(scattered)} scattered points"
)
display = EllipseDisplay.from_estimator(gmm, points, n_sigma=3)
display.ax_.set_title("New points within 3 sigma of a component, or not")
plt.show()
