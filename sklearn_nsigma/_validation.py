"""One validator per parameter, and the check of X at predict time.

``n_sigma`` is accepted in several forms: one threshold (the detector), one
per component (``predict_within``), several levels (the displays), or any
array of radii (``sigma_to_coverage``). :func:`check_n_sigma` validates them
all with the same rule; :data:`POSITIVE_FINITE` is that rule as a
scikit-learn parameter constraint, for ``_parameter_constraints``.
"""

from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils.validation import check_is_fitted, validate_data

from sklearn_nsigma._compat import Interval, get_namespace


class StrictInterval(Interval):
    """A scikit-learn ``Interval`` constraint that refuses bools.

    ``bool`` is a subclass of ``int``, so ``Interval(Real, ...)`` takes
    ``True`` for 1; a threshold or a dimension given as a bool is a mistake.
    """

    def is_satisfied_by(self, val) -> bool:
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


# A Mahalanobis radius: positive and finite (NaN is refused by Interval).
POSITIVE_FINITE = StrictInterval(Real, 0, None, closed="neither")
# A radius that may be 0 or infinite (sigma_to_coverage).
NON_NEGATIVE = StrictInterval(Real, 0, None, closed="both")
# A dimension.
N_FEATURES = StrictInterval(Integral, 1, None, closed="left")


def _satisfied(array: np.ndarray, interval: Interval) -> np.ndarray:
    """Elementwise ``interval.is_satisfied_by``; NaN fails."""
    left = -np.inf if interval.left is None else interval.left
    right = np.inf if interval.right is None else interval.right
    if interval.closed in ("left", "both"):
        above = array >= left
    else:
        above = array > left
    if interval.closed in ("right", "both"):
        return above & (array <= right)
    return above & (array < right)


def check_real_array(
    values: ArrayLike, name: str, interval: Interval, expected: str | None = None
) -> np.ndarray:
    """``values`` as a float64 array whose every element lies in ``interval``.

    Parameters
    ----------
    values : float or array-like
        The value(s) of the parameter.

    name : str
        The parameter's name, for the error messages.

    interval : Interval
        The range of every element.

    expected : str, default=None
        What the error messages say is expected.

    Returns
    -------
    array : ndarray
        float64, of the shape of ``values``.

    Raises
    ------
    TypeError
        If ``values`` is a bool, a string or not numeric.
    ValueError
        If an element is out of range or NaN.
    """
    if expected is None:
        expected = f"{name} must be {interval} or an array of them"
    if isinstance(values, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{expected}, got {values!r} of type {type(values)}.")
    try:
        array = np.asarray(values)
    except Exception as exc:  # ragged sequences and other oddities
        raise TypeError(f"{expected}, got {values!r}.") from exc
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{expected}, got {values!r} of dtype {array.dtype}.")
    array = array.astype(np.float64)
    if not _satisfied(array, interval).all():
        raise ValueError(f"{expected}, got {values!r}.")
    return array


def check_n_sigma(
    n_sigma: ArrayLike,
    *,
    n_components: int | None = None,
    levels: bool = False,
    allow_zero_and_inf: bool = False,
    name: str = "n_sigma",
) -> float | np.ndarray:
    """Validate Mahalanobis radii given as ``n_sigma``.

    Parameters
    ----------
    n_sigma : float or array-like
        Positive finite radius, or radii.

    n_components : int, default=None
        Per component: ``n_sigma`` is one radius or one per component, and
        the result has shape (n_components,).

    levels : bool, default=False
        Levels: ``n_sigma`` is one radius or a non-empty 1-D sequence, and
        the result has shape (n_levels,), in the order given.

    allow_zero_and_inf : bool, default=False
        Accept 0 and ``inf`` (``sigma_to_coverage``). Without
        ``n_components`` or ``levels``, an array of any shape is accepted.

    name : str, default="n_sigma"
        The parameter's name, for the error messages.

    Returns
    -------
    n_sigma : float or ndarray
        A float for a scalar without ``n_components`` or ``levels``, else a
        float64 array.

    Raises
    ------
    TypeError
        If ``n_sigma`` is a bool, a string or not numeric.
    ValueError
        If a radius is out of range or NaN, or the shape is wrong.

    Examples
    --------
    >>> from sklearn_nsigma._validation import check_n_sigma
    >>> check_n_sigma(3)
    3.0
    >>> check_n_sigma(2, n_components=3)
    array([2., 2., 2.])
    >>> check_n_sigma([1, 2, 3], levels=True)
    array([1., 2., 3.])
    """
    rule = "non-negative number" if allow_zero_and_inf else "positive finite number"
    if n_components is not None:
        expected = (
            f"{name} must be a {rule} or an array of shape (n_components,) = "
            f"({n_components},)"
        )
    elif levels:
        expected = f"{name} must be a {rule} or a non-empty 1-D sequence of them"
    else:
        expected = f"{name} must be a {rule} or an array of them"
    interval = NON_NEGATIVE if allow_zero_and_inf else POSITIVE_FINITE
    array = check_real_array(n_sigma, name, interval, expected)
    if n_components is not None:
        if array.ndim == 0:
            array = np.full(n_components, float(array))
        elif array.shape != (n_components,):
            raise ValueError(f"{expected}, got an array of shape {array.shape}.")
    elif levels:
        array = np.atleast_1d(array)
        if array.ndim != 1 or array.size == 0:
            raise ValueError(f"{expected}, got an array of shape {array.shape}.")
    if array.ndim == 0 and n_components is None:
        return float(array)
    return array


def validate_rows(estimator, X):
    """Check a fitted ``estimator`` and the ``X`` of one of its row-wise methods.

    X keeps its float64 or float32 dtype and its array namespace; NaN and
    infinity are left to the distance kernel, which finds them in its own
    pass over X when it can (X is then read once).
    """
    check_is_fitted(estimator)
    xp, _ = get_namespace(X)
    return validate_data(
        estimator,
        X,
        reset=False,
        dtype=[xp.float64, xp.float32],
        ensure_all_finite=False,
    )
