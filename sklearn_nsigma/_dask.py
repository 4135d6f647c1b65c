"""Lazy, block-by-block scoring of Dask arrays.

A fitted estimator's row-wise methods (``mahalanobis``, ``predict_within``,
the detector's ``predict`` ...) accept a 2-D Dask array and return a lazy Dask
array with the same row chunks. Each block is scored by the very same NumPy
method, so the results are identical to the in-memory computation. The
estimator enters the task graph once, as a single ``dask.delayed`` key that
every block task depends on: a distributed scheduler ships it to each worker
once, not once per block.

Dask is an optional dependency (the ``dask`` extra); nothing here imports it
unless a Dask array is passed in. :func:`row_wise` is the one way a Dask
array reaches these methods: it decorates the NumPy method.
"""

import functools
import inspect

import numpy as np
from sklearn.utils.validation import check_is_fitted


def is_dask_array(X) -> bool:
    """Whether ``X`` is a Dask array (without importing Dask)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "chunks")


def check_row_blocks(X, where: str) -> None:
    """Refuse a Dask array that is not 2-D, real, and chunked along rows only."""
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2D Dask array for X in {where}, got {X.ndim} "
            f"dimension(s) with shape {X.shape}."
        )
    if len(X.chunks[1]) != 1:
        raise ValueError(
            f"X is chunked along its feature axis (chunks {X.chunks[1]}); "
            "every block must hold whole rows. Rechunk it with "
            "X.rechunk({1: -1})."
        )
    if np.dtype(X.dtype).kind not in "biuf":
        raise TypeError(
            f"X must hold real numbers, got a Dask array of dtype {X.dtype}."
        )


def _score_block(block, estimator, method, kwargs):
    return getattr(estimator, method)(block, **kwargs)


def _score_block_rows(blocks, estimator, method, kwargs):
    # blockwise(concatenate=False) passes the blocks of a row as a list; X
    # holds one block per row.
    (block,) = blocks
    return getattr(estimator, method)(block, **kwargs)


def map_row_blocks(estimator, method: str, X, *, n_columns, dtype, **kwargs):
    """Apply ``estimator.method`` to every row block of the Dask array ``X``.

    Parameters
    ----------
    estimator : fitted estimator
        Provides ``n_features_in_`` and the NumPy ``method``.

    method : str
        Name of the row-wise method to call on each block.

    X : dask.array.Array of shape (n_samples, n_features)
        The data, chunked along rows only.

    n_columns : int or None
        Number of output columns, or None for one value per row.

    dtype : dtype or "float"
        Output dtype; ``"float"`` means the floating dtype the block will be
        computed in (float32 for float32 input, float64 otherwise).

    **kwargs : dict
        Passed on to ``method``.

    Returns
    -------
    result : dask.array.Array
        Lazy result of shape (n_samples,) or (n_samples, n_columns).
    """
    import dask
    import dask.array as da

    check_row_blocks(X, f"{type(estimator).__name__}.{method}()")
    n_features = estimator.n_features_in_
    if X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
            f"expecting {n_features} features as input."
        )
    if dtype == "float":
        dtype = np.float32 if X.dtype == np.float32 else np.float64
    dtype = np.dtype(dtype)
    shipped = dask.delayed(estimator, pure=True)
    if n_columns is None:
        # One value per row. ``map_blocks(drop_axis=1)`` would concatenate
        # the blocks along the dropped axis, which copies every block even
        # when there is one block per row: blockwise without concatenation
        # hands the block over as it is.
        return da.blockwise(
            _score_block_rows,
            "i",
            X,
            "ij",
            shipped,
            None,
            method,
            None,
            kwargs,
            None,
            concatenate=False,
            token="_score_block",
            dtype=dtype,
            meta=np.empty((0,), dtype=dtype),
        )
    return da.map_blocks(
        _score_block,
        X,
        shipped,
        method,
        kwargs,
        dtype=dtype,
        chunks=(X.chunks[0], (n_columns,)),
        meta=np.empty((0, 0), dtype=dtype),
    )


def row_wise(*, dtype="float", n_columns=None, prepare=None):
    """Let a row-wise method of a fitted estimator take a Dask array.

    The decorated method runs as it is on anything but a Dask array. On a
    Dask array it checks that the estimator is fitted, calls ``prepare``
    (which validates the other arguments before any graph is built) and
    returns :func:`map_row_blocks` of the method itself, by name, so that
    every block is computed by the same NumPy code.

    Parameters
    ----------
    dtype : dtype or "float", default="float"
        Output dtype, as in :func:`map_row_blocks`.

    n_columns : str, callable or None, default=None
        Number of output columns: None for one value per row, the name of
        an attribute of the estimator, or ``n_columns(estimator, arguments)``
        (None or an int) of the method's other arguments.

    prepare : callable, default=None
        ``prepare(estimator, arguments)`` returns the arguments (a dict, by
        name) to pass to every block, after checking them.

    Returns
    -------
    decorator : callable
        The decorator.
    """

    def decorate(method):
        signature = inspect.signature(method)

        @functools.wraps(method)
        def dispatch(self, X, *args, **kwargs):
            if not is_dask_array(X):
                return method(self, X, *args, **kwargs)
            check_is_fitted(self)
            bound = signature.bind(self, X, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(list(bound.arguments.items())[2:])
            if prepare is not None:
                arguments = prepare(self, arguments)
            if isinstance(n_columns, str):
                columns = getattr(self, n_columns)
            elif callable(n_columns):
                columns = n_columns(self, arguments)
            else:
                columns = None
            return map_row_blocks(
                self, method.__name__, X, n_columns=columns, dtype=dtype, **arguments
            )

        return dispatch

    return decorate
