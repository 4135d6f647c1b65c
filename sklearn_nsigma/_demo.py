"""The library's main job on a built-in dataset, as a printed report."""

import numpy as np
from sklearn.datasets import load_iris

from sklearn_nsigma._coverage import sigma_to_coverage
from sklearn_nsigma._mixture import NSigmaGaussianMixture

SIGMAS = (1, 2, 3)


def coverage_table(model: NSigmaGaussianMixture, X: np.ndarray) -> list[tuple]:
    """Observed fraction of samples within n sigma of their own component.

    Each sample is assigned to its most probable component (``predict``);
    the fraction of samples within ``n`` sigma of that component is shown
    next to the chi-square expectation ``chi2.cdf(n**2, n_features)``.

    Returns
    -------
    rows : list of (n_sigma, observed, expected)
    """
    labels = model.predict(X)
    own_distance = model.mahalanobis(X)[np.arange(X.shape[0]), labels]
    return [
        (n, float(np.mean(own_distance <= n)), sigma_to_coverage(n, X.shape[1]))
        for n in SIGMAS
    ]


def _matrix_rows(matrix: np.ndarray) -> list[str]:
    """The rows of ``matrix`` as text, in aligned columns, one bracket pair each."""
    # the outer brackets of the whole matrix dropped, then one row a line
    return [line.strip() for line in np.array2string(matrix)[1:-1].splitlines()]


def report(model: NSigmaGaussianMixture, X: np.ndarray, title: str) -> str:
    """Text report: each component's ellipsoid and the coverage table."""
    params = model.ellipsoid_params_
    lines = [title, ""]
    with np.printoptions(precision=3, suppress=True, floatmode="fixed"):
        for k in range(params.n_components):
            lines.append(f"Component {k} (weight {model.weights_[k]:.3f})")
            lines.append(f"  centre          {params.centers[k]}")
            lines.append(f"  1-sigma radii   {params.radii[k]}")
            lines.append("  rotation (columns are the principal axes, det +1)")
            lines.extend(f"    {row}" for row in _matrix_rows(params.rotations[k]))
            if params.angles is not None:
                lines.append(f"  major-axis angle {params.angles[k]:.1f} degrees")
            lines.append("")
    d = X.shape[1]
    lines.append(f"Samples within n sigma of their own component (d = {d}):")
    lines.append(f"  n   observed   expected chi2.cdf(n^2, {d})")
    for n, observed, expected in coverage_table(model, X):
        lines.append(f"  {n}   {observed:8.3f}   {expected:8.3f}")
    return "\n".join(lines)


DEMO_N_COMPONENTS = 3


def demo_table() -> tuple[list[str], list[list[str]]]:
    """The iris dataset as the rows of a CSV file with a header.

    Four measurement columns and the ``species`` column, which the
    command-line tool passes through untouched.

    Returns
    -------
    header : list of str
        Column names.

    rows : list of list of str
        One row of text fields per flower.
    """
    iris = load_iris()
    header = [*iris.feature_names, "species"]
    rows = [
        [f"{value:g}" for value in values] + [str(iris.target_names[target])]
        for values, target in zip(iris.data, iris.target, strict=True)
    ]
    return header, rows


def demo_title(n_components: int, n_samples: int, n_features: int) -> str:
    """Title of the demo report."""
    return (
        f"NSigmaGaussianMixture(n_components={n_components}) on the iris dataset "
        f"({n_samples} samples, {n_features} features)"
    )


def run_demo() -> str:
    """Fit a 3-component mixture to the iris measurements and report."""
    X = load_iris().data
    model = NSigmaGaussianMixture(n_components=DEMO_N_COMPONENTS, random_state=0)
    model.fit(X)
    return report(model, X, demo_title(DEMO_N_COMPONENTS, *X.shape))
