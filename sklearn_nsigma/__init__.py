"""n-sigma ellipsoids of Gaussian mixture components for scikit-learn."""

from sklearn_nsigma._coverage import coverage_to_sigma, sigma_to_coverage
from sklearn_nsigma._dask_fit import fit_dask
from sklearn_nsigma._detector import NSigmaOutlierDetector
from sklearn_nsigma._filter import NSigmaOutlierFilter
from sklearn_nsigma._geometry import EllipsoidParams, ellipsoid_params
from sklearn_nsigma._mixture import (
    NSigmaBayesianGaussianMixture,
    NSigmaGaussianMixture,
)
from sklearn_nsigma._plot import (
    CoverageDisplay,
    EllipseDisplay,
    EllipsoidDisplay,
    PairwiseEllipseDisplay,
)
from sklearn_nsigma._scoring import make_outlier_scorer

__version__ = "0.1.0"

__all__ = [
    "CoverageDisplay",
    "EllipseDisplay",
    "EllipsoidDisplay",
    "EllipsoidParams",
    "NSigmaBayesianGaussianMixture",
    "NSigmaGaussianMixture",
    "NSigmaOutlierDetector",
    "NSigmaOutlierFilter",
    "PairwiseEllipseDisplay",
    "__version__",
    "coverage_to_sigma",
    "ellipsoid_params",
    "fit_dask",
    "make_outlier_scorer",
    "sigma_to_coverage",
]
