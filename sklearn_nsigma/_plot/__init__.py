"""Displays of n-sigma ellipses, ellipsoids and coverage (matplotlib).

Every display follows scikit-learn's Display pattern
(:class:`sklearn.inspection.DecisionBoundaryDisplay`): ``from_estimator``
computes plain arrays and builds the display, whose ``plot`` method draws
them, sets ``ax_``, ``figure_`` and the artists, and returns the display.
matplotlib is imported inside ``plot`` only, so the package works without
it.

- ``_mixture``: what the displays read from a fitted mixture or detector;
- ``_inputs``: what every ``from_estimator`` computes first;
- ``_base``: styles, colours, points, centres and legend;
- one module per display.
"""

from sklearn_nsigma._plot._coverage import CoverageDisplay
from sklearn_nsigma._plot._ellipse import EllipseDisplay
from sklearn_nsigma._plot._ellipsoid import EllipsoidDisplay
from sklearn_nsigma._plot._pairwise import PairwiseEllipseDisplay

__all__ = [
    "CoverageDisplay",
    "EllipseDisplay",
    "EllipsoidDisplay",
    "PairwiseEllipseDisplay",
]
