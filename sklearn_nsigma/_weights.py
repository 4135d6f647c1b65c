"""Which mixture components count: the ``min_weight`` rule.

One rule for the detector (``eligible_components_``) and the displays (the
components they draw): a component counts when its weight is at least
``min_weight``, and the heaviest always counts. ``min_weight="auto"`` asks
for at least :data:`AUTO_MIN_WEIGHT` of the samples and at least
:data:`AUTO_MIN_SAMPLES` of them.
"""

from numbers import Real

import numpy as np
from numpy.typing import ArrayLike

# The floor of min_weight="auto", and the number of samples a component must
# hold at least.
AUTO_MIN_WEIGHT = 0.05
AUTO_MIN_SAMPLES = 2


def auto_min_weight(n_samples: int | None) -> float:
    """The value of ``min_weight="auto"``: ``max(0.05, 2 / n_samples)``.

    Parameters
    ----------
    n_samples : int or None
        Number of samples the weights were estimated from. None (unknown)
        gives the floor, 0.05.

    Returns
    -------
    min_weight : float
        The smallest weight of a component that counts.

    Examples
    --------
    >>> from sklearn_nsigma._weights import auto_min_weight
    >>> auto_min_weight(1000), auto_min_weight(20), auto_min_weight(None)
    (0.05, 0.1, 0.05)
    """
    if not n_samples:
        return AUTO_MIN_WEIGHT
    return max(AUTO_MIN_WEIGHT, AUTO_MIN_SAMPLES / n_samples)


def resolve_min_weight(min_weight: float | str, n_samples: int | None) -> float:
    """``min_weight`` as a number: itself, or its 'auto' value.

    Parameters
    ----------
    min_weight : float in [0, 1] or 'auto'
        The parameter.

    n_samples : int or None
        Number of samples behind the weights, for 'auto' (see
        :func:`auto_min_weight`).

    Returns
    -------
    min_weight : float
        The smallest weight of a component that counts.
    """
    if isinstance(min_weight, str) and min_weight == "auto":
        return auto_min_weight(n_samples)
    if (
        not isinstance(min_weight, Real)
        or isinstance(min_weight, bool)
        or not 0 <= min_weight <= 1
    ):
        raise ValueError(
            f"min_weight must be a number in [0, 1] or 'auto', got {min_weight!r}."
        )
    return float(min_weight)


def eligible_components(weights: ArrayLike, min_weight: float) -> np.ndarray:
    """Whether each component counts: weight at least ``min_weight``.

    The heaviest component always counts, so that some component does.

    Parameters
    ----------
    weights : array-like of shape (n_components,)
        Mixture weights.

    min_weight : float
        Smallest weight of a component that counts.

    Returns
    -------
    eligible : ndarray of bool of shape (n_components,)
        The mask of the components that count.

    Examples
    --------
    >>> from sklearn_nsigma._weights import eligible_components
    >>> eligible_components([0.5, 0.001, 0.499], min_weight=0.01)
    array([ True, False,  True])
    >>> eligible_components([0.5, 0.001, 0.499], min_weight=0.9)
    array([ True, False, False])
    """
    weights = np.asarray(weights)
    eligible = weights >= min_weight
    if weights.size:
        eligible[np.argmax(weights)] = True
    return eligible
