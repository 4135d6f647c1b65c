"""n-sigma ellipsoids of Gaussian mixture components for scikit-learn."""

from sklearn_nsigma._coverage import coverage_to_sigma, sigma_to_coverage
from sklearn_nsigma._geometry import EllipsoidParams, ellipsoid_params
from sklearn_nsigma._mixture import NSigmaGaussianMixture

__version__ = "0.1.0"

__all__ = [
    "EllipsoidParams",
    "NSigmaGaussianMixture",
    "__version__",
    "coverage_to_sigma",
    "ellipsoid_params",
    "sigma_to_coverage",
]
