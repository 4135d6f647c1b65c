"""The one module that imports private scikit-learn helpers.

scikit-learn does not promise to keep these names stable; importing them in
one place means a change in scikit-learn is a fix in one file.
"""

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._array_api import (
    _is_numpy_namespace,
    get_namespace,
    get_namespace_and_device,
)

try:  # scikit-learn >= 1.8
    from sklearn.utils._array_api import move_to
except ImportError:  # pragma: no cover - older scikit-learn
    from sklearn.utils._array_api import _convert_to_numpy

    def move_to(*arrays, xp, device):
        """Move arrays to the namespace ``xp`` and ``device``, via the host."""
        moved = []
        for array in arrays:
            array_xp, _ = get_namespace(array)
            host = (
                np.asarray(array)
                if _is_numpy_namespace(array_xp)
                else _convert_to_numpy(array, array_xp)
            )
            moved.append(
                host if _is_numpy_namespace(xp) else xp.asarray(host, device=device)
            )
        return moved[0] if len(moved) == 1 else tuple(moved)


try:  # scikit-learn >= 1.8
    from sklearn.utils._array_api import check_same_namespace
except ImportError:  # pragma: no cover - older scikit-learn

    def check_same_namespace(X, estimator, *, attribute, method):
        """Raise if X's array namespace differs from the fitted attribute's."""
        from sklearn import get_config

        if not get_config()["array_api_dispatch"]:
            return
        a_xp, _, a_device = get_namespace_and_device(getattr(estimator, attribute))
        X_xp, _, X_device = get_namespace_and_device(X)
        if _is_numpy_namespace(a_xp) and _is_numpy_namespace(X_xp):
            return
        if X_xp != a_xp or X_device != a_device:
            raise ValueError(
                f"Inputs passed to {type(estimator).__name__}.{method}() must use "
                "the same namespace and the same device as those passed to fit()."
            )


from sklearn.mixture._gaussian_mixture import (
    _compute_log_det_cholesky,
    _compute_precision_cholesky,
    _compute_precision_cholesky_from_precisions,
)
from sklearn.utils._indexing import _safe_indexing
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils._plotting import _validate_style_kwargs  # scikit-learn >= 1.5
from sklearn.utils.validation import _check_feature_names, _check_n_features

__all__ = [
    "HasMethods",
    "Interval",
    "StrOptions",
    "_check_feature_names",
    "_check_n_features",
    "_compute_log_det_cholesky",
    "_compute_precision_cholesky",
    "_compute_precision_cholesky_from_precisions",
    "_fit_context",
    "_is_numpy_namespace",
    "_safe_indexing",
    "_validate_style_kwargs",
    "check_matplotlib_support",
    "check_same_namespace",
    "get_namespace",
    "get_namespace_and_device",
    "move_to",
    "validate_params",
]
