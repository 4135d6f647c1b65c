"""n-sigma ellipsoids of Gaussian mixture components for scikit-learn.

The public names are imported on first use (PEP 562), so that the command
line (``python -m sklearn_nsigma --help``) starts without loading
scikit-learn.
"""

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_SOURCES = {
    "CoverageDisplay": "sklearn_nsigma._plot",
    "EllipseDisplay": "sklearn_nsigma._plot",
    "EllipsoidDisplay": "sklearn_nsigma._plot",
    "EllipsoidParams": "sklearn_nsigma._geometry",
    "NSigmaBayesianGaussianMixture": "sklearn_nsigma._mixture",
    "NSigmaGaussianMixture": "sklearn_nsigma._mixture",
    "NSigmaOutlierDetector": "sklearn_nsigma._detector",
    "NSigmaOutlierFilter": "sklearn_nsigma._filter",
    "PairwiseEllipseDisplay": "sklearn_nsigma._plot",
    "coverage_to_sigma": "sklearn_nsigma._coverage",
    "ellipsoid_params": "sklearn_nsigma._geometry",
    "fit_dask": "sklearn_nsigma._dask_fit",
    "make_outlier_scorer": "sklearn_nsigma._scoring",
    "sigma_to_coverage": "sklearn_nsigma._coverage",
}

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

if TYPE_CHECKING:  # what static tools see; at run time __getattr__ loads them
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


def __getattr__(name: str):
    if name in _SOURCES:
        value = getattr(importlib.import_module(_SOURCES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_SOURCES})
