"""
=====================================================
The n-sigma ellipse against contours of the pdf
=====================================================

For one Gaussian component, the contours of its density are ellipses, and
each one is an n-sigma ellipse: the density at Mahalanobis distance ``n`` is
``exp(-n**2 / 2) / sqrt((2 pi)**d det(S))``. So the n-sigma ellipse and a
pdf contour have the same shape and position. What differs is the level:
because of the ``det(S)`` term, one pdf threshold is a different number of
sigmas for a broad and for a narrow component. n sigma is comparable across
components, a pdf threshold is not.

This example checks both facts in 2-D (ellipses and contour lines) and in
3-D (ellipsoids and a thresholded point cloud), with rotated covariances.
"""

# %%
# Two rotated components of different sizes
# -----------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import multivariate_normal

from sklearn_nsigma import EllipseDisplay, EllipsoidDisplay, NSigmaGaussianMixture


def rotation_2d(degrees):
    theta = np.radians(degrees)
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


rng = np.random.RandomState(0)
covariances = [
    rotation_2d(30) @ np.diag([4.0, 0.5]) @ rotation_2d(30).T,  # broad
    rotation_2d(-50) @ np.diag([0.25, 0.02]) @ rotation_2d(-50).T,  # narrow
]
X = np.concatenate(
    [
        rng.multivariate_normal([0, 0], covariances[0], 600),
        rng.multivariate_normal([5, 3], covariances[1], 300),
    ]
)
gmm = NSigmaGaussianMixture(n_components=2, random_state=0).fit(X)


def pdf_at_sigma(n, covariance):
    """Density of N(mu, S) at Mahalanobis distance n from mu."""
    d = covariance.shape[0]
    norm = np.sqrt((2 * np.pi) ** d * np.linalg.det(covariance))
    return np.exp(-(n**2) / 2) / norm


def sigma_at_pdf(level, covariance):
    """Mahalanobis distance at which N(mu, S) has density ``level``."""
    d = covariance.shape[0]
    norm = np.sqrt((2 * np.pi) ** d * np.linalg.det(covariance))
    return np.sqrt(-2 * np.log(level * norm))


# %%
# Same shape and position
# -----------------------
# Left: each component's pdf contours at the densities of 1, 2 and 3 sigma
# (black, thin) fall on its n-sigma ellipses. Right: one threshold on the
# mixture's pdf, chosen at 2 sigma of the broad component, against the
# 2-sigma ellipses. Around the narrow component, the same density is reached
# much farther out, in sigmas.
grid = np.stack(np.meshgrid(np.linspace(-7, 8, 300), np.linspace(-5, 6, 300)), axis=-1)
levels = (1, 2, 3)
fig, (ax_left, ax_right) = plt.subplots(
    1, 2, figsize=(11, 4.8), sharex=True, sharey=True, layout="constrained"
)
EllipseDisplay.from_estimator(gmm, n_sigma=levels, ax=ax_left, linewidth=3, alpha=0.5)
for mean, covariance in zip(gmm.means_, gmm.covariances_, strict=True):
    density = multivariate_normal(mean, covariance).pdf(grid)
    ax_left.contour(
        grid[..., 0],
        grid[..., 1],
        density,
        levels=sorted(pdf_at_sigma(n, covariance) for n in levels),
        colors="black",
        linewidths=0.8,
    )
ax_left.set_title("Each component's pdf contours at 1, 2, 3 sigma")

broad = int(np.argmax(np.linalg.det(gmm.covariances_)))
threshold = gmm.weights_[broad] * pdf_at_sigma(2, gmm.covariances_[broad])
mixture_density = np.exp(gmm.score_samples(grid.reshape(-1, 2))).reshape(300, 300)
EllipseDisplay.from_estimator(gmm, X, n_sigma=2, ax=ax_right)
ax_right.contour(
    grid[..., 0], grid[..., 1], mixture_density, levels=[threshold], colors="black"
)
ax_right.set_title("One threshold on the mixture pdf (black) vs 2 sigma")

# %%
# In sigmas, the single pdf threshold sits at (ignoring the overlap of the
# components, which is negligible here):
for k, (weight, covariance) in enumerate(
    zip(gmm.weights_, gmm.covariances_, strict=True)
):
    n = sigma_at_pdf(threshold / weight, covariance)
    print(f"component {k}: det(S) = {np.linalg.det(covariance):.3f}, {n:.2f} sigma")

# %%
# The same in 3-D
# ---------------
# A rotated 3-D Gaussian. Points of a uniform cloud whose density is at
# least the density at 2 sigma fill the 2-sigma ellipsoid: their largest
# Mahalanobis distance is 2.
A = np.array([[2.0, 0.3, 0.0], [0.8, 1.0, 0.2], [0.5, -0.4, 0.5]])
X3 = rng.multivariate_normal([0, 0, 0], A @ A.T, 1000)
gmm3 = NSigmaGaussianMixture(random_state=0).fit(X3)
mean, covariance = gmm3.means_[0], gmm3.covariances_[0]

cloud = rng.uniform(X3.min(axis=0), X3.max(axis=0), size=(40_000, 3))
kept = cloud[
    multivariate_normal(mean, covariance).pdf(cloud) >= pdf_at_sigma(2, covariance)
]
distances = gmm3.mahalanobis(kept)[:, 0]
print(
    f"{len(kept)} cloud points above the 2-sigma density: Mahalanobis distance "
    f"from {distances.min():.2f} to {distances.max():.2f}"
)

fig = plt.figure(figsize=(6, 5.5), layout="constrained")
ax = fig.add_subplot(projection="3d")
EllipsoidDisplay.from_estimator(
    gmm3,
    kept[::2],
    n_sigma=2,
    kind="wireframe",
    ax=ax,
    color_by="none",
    scatter_kwargs={"s": 4, "color": "tab:red", "alpha": 0.6, "depthshade": False},
)
ax.set_title("Thresholded pdf point cloud inside the 2-sigma ellipsoid")
plt.show()
