"""Validation of thresholds given at predict time."""

from numbers import Real

import numpy as np
from numpy.typing import ArrayLike


def check_n_sigma(n_sigma: ArrayLike, n_components: int) -> np.ndarray:
    """Validate ``n_sigma`` and return one float64 threshold per component.

    Parameters
    ----------
    n_sigma : float or array-like of shape (n_components,)
        A positive finite Mahalanobis radius, or one per component.

    n_components : int
        Number of components of the fitted mixture.

    Returns
    -------
    thresholds : ndarray of shape (n_components,)
        The radius of each component, as float64.

    Raises
    ------
    TypeError
        If ``n_sigma`` is a bool, a string or not numeric.
    ValueError
        If ``n_sigma`` is not positive and finite, or has the wrong shape.
    """
    expected = (
        f"n_sigma must be a positive finite number or an array of shape "
        f"(n_components,) = ({n_components},)"
    )
    if isinstance(n_sigma, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{expected}, got {n_sigma!r} of type {type(n_sigma)}.")
    if isinstance(n_sigma, Real):
        thresholds = np.full(n_components, float(n_sigma))
    else:
        try:
            array = np.asarray(n_sigma)
        except Exception as exc:  # ragged sequences and other oddities
            raise TypeError(f"{expected}, got {n_sigma!r}.") from exc
        if array.dtype.kind not in "iuf":
            raise TypeError(f"{expected}, got {n_sigma!r} of dtype {array.dtype}.")
        if array.ndim == 0:
            thresholds = np.full(n_components, float(array))
        elif array.shape != (n_components,):
            raise ValueError(f"{expected}, got an array of shape {array.shape}.")
        else:
            thresholds = array.astype(np.float64)
    if not (np.isfinite(thresholds).all() and (thresholds > 0).all()):
        raise ValueError(f"{expected}, got {n_sigma!r}.")
    return thresholds
