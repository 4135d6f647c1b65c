"""n-sigma ellipsoids of Gaussian mixture components for scikit-learn.

The public names are imported on first use (PEP 562), so that the command
line (``python -m sklearn_nsigma --help``) starts without loading
scikit-learn.
"""

import importlib

__version__ = "0.1.0"

_SOURCES = {
    "CoverageDisplay": "sklearn_nsigma._plot",
    "EllipseDisplay": "sklearn_nsigma._plot",
    "EllipsoidDisplay": "sklearn_nsigma._plot",
    "EllipsoidParams": "sklearn_nsigma._geometry",
    "NSigmaGaussianMixture": "sklearn_nsigma._mixture",
    "NSigmaOutlierDetector": "sklearn_nsigma._detector",
    "NSigmaOutlierFilter": "sklearn_nsigma._filter",
    "PairwiseEllipseDisplay": "sklearn_nsigma._plot",
    "coverage_to_sigma": "sklearn_nsigma._coverage",
    "ellipsoid_params": "sklearn_nsigma._geometry",
    "make_outlier_scorer": "sklearn_nsigma._scoring",
    "sigma_to_coverage": "sklearn_nsigma._coverage",
}

__all__ = [*sorted(_SOURCES), "__version__"]


def __getattr__(name: str):
    if name in _SOURCES:
        value = getattr(importlib.import_module(_SOURCES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_SOURCES})
