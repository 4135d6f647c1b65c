"""Chunked Mahalanobis distances of samples to every mixture component.

One kernel serves every public method that needs distances. Rows of ``X`` are
processed in cache-sized chunks with reused buffers; each chunk costs one
matrix product against a small matrix that stacks the precision Cholesky
factors of all components, the mean offsets folded in as an extra column, so
every component is handled by a single BLAS call. No array of shape
(n_samples, n_components, n_features) is ever formed, float32 input is
computed in float32 (the small factor matrices are cast, never ``X``), and the
(n_samples, n_components) matrix is only written when the caller asks for it.
In float32, squared distances above the float32 maximum (distances beyond
about 1.8e19 sigma) are ``inf``, which thresholds still compare correctly;
callers that need them finite pass float64 data.

Chunks are laid out feature-major: a chunk of ``m`` rows becomes a
``(n_features + 1, m)`` buffer ``[(X - c).T; 1]``, and every later step works
along contiguous rows of length ``m``, where NumPy's elementwise operations and
reductions are fastest (reductions over a short trailing axis of length
n_features are several times slower).

* ``full`` and ``tied``: ``W @ [(X - c).T; 1]`` with ``W`` of shape
  (n_components * n_features, n_features + 1) gives the whitened offsets
  ``L_k.T @ (x - mu_k)`` of every component stacked (one GEMM); their squared
  norms are the squared distances.
* ``diag`` and ``spherical``: the factors are diagonal, so the offsets
  ``x - mu_k`` of every component are formed by broadcasting into the same
  buffer, squared in place, and weighted by the precisions ``s_k**2`` in one
  batched product; a GEMM against a block-diagonal matrix would waste a
  factor n_features of work.

The offsets are formed before squaring (never the expanded square
``|x|^2 - 2 x.mu + |mu|^2``, which loses all precision near the means in
float32). ``c`` is the mean of the component means, rounded to the dtype of
the computation, and the mean offsets ``mu_k - c`` are taken from that rounded
value (in float64): centring each chunk on it keeps the products accurate for
data far from the origin, in float32 too.

Chunks are spread over threads (NumPy releases the GIL in its loops and BLAS
calls); the number of threads is the BLAS thread limit, so
``threadpoolctl.threadpool_limits`` controls it, and BLAS itself runs
single-threaded meanwhile to avoid oversubscription.

When the optional compiled kernel (``sklearn_nsigma._ckernel``, built at
install time where a C compiler is present) is importable, NumPy input goes
through it instead: the same centring, whitening and thresholds, computed
with the rows of a tile in the lanes of SIMD vectors, one multiply-add per
nonzero factor entry (the precision Cholesky factors of ``GaussianMixture``
are triangular, which a GEMM cannot exploit) and no intermediate array at
all. The environment variable ``SKLEARN_NSIGMA_KERNEL=numpy`` (read at
import) selects the NumPy kernel everywhere.
"""

import copy
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.utils import assert_all_finite

from sklearn_nsigma._compat import _is_numpy_namespace, get_namespace_and_device
from sklearn_nsigma._kernel_backend import (  # noqa: F401 (re-exported)
    _MIN_CHUNK_ROWS,
    _MIN_CHUNKS_FOR_THREADS,
    _MODE_MIN_SCALED,
    _MODE_SQUARED,
    _MODE_WITHIN,
    _MODE_WITHIN_EACH,
    _blas_threads,
    _ckernel,
    _kernel_choice,
    _KernelChoice,
    _single_threaded_blas,
    compiled_kernel_available,
    compiled_parameters,
    run_compiled,
    use_compiled_kernel,
)

# Bytes of per-chunk work buffers: small enough to stay in a core's L2 cache.
_CHUNK_BYTES = 1 << 20
# Chunks of the generic array API path are this many times larger.
_XP_CHUNK_FACTOR = 16


def _check_factors(factors: np.ndarray, covariance_type: str) -> None:
    """Reject precision factors that are non-finite or not invertible.

    Such factors come from a singular covariance (possible in a mixture built
    by hand); using them would give NaN or silently wrong distances.
    """
    n_components = factors.shape[0]
    if covariance_type in ("full", "tied"):
        diagonals = np.diagonal(factors, axis1=1, axis2=2)
        finite = np.isfinite(factors).all(axis=(1, 2))
        bad = ~finite | ~(np.abs(diagonals) > 0).all(axis=1)
    else:
        bad = ~(np.isfinite(factors) & (factors > 0)).all(axis=1)
    if bad.any():
        which = np.flatnonzero(bad).tolist()
        what = (
            "The tied covariance"
            if covariance_type == "tied"
            else f"Component(s) {which} of the mixture"
        )
        raise ValueError(
            f"{what} has a singular or non-finite covariance: its precision "
            "Cholesky factor (precisions_cholesky_) is not finite and "
            f"invertible (covariance_type={covariance_type!r}, "
            f"n_components={n_components}). Mahalanobis distances are not "
            "defined; refit with a larger reg_covar or fix the component."
        )


def kernel_dtype(X) -> str:
    """The floating dtype a kernel computes ``X`` in, for any array namespace.

    float32 stays float32; everything else is computed in float64.
    """
    return "float32" if "float32" in str(X.dtype) else "float64"


def _same_rows(out: np.ndarray, X: np.ndarray) -> bool:
    """Whether ``out`` is X itself: the same memory, layout and dtype."""
    return (
        out.shape == X.shape
        and out.strides == X.strides
        and out.dtype == X.dtype
        and out.__array_interface__["data"][0] == X.__array_interface__["data"][0]
    )


class MahalanobisKernel:
    """Squared Mahalanobis distances of row chunks to all components.

    Parameters
    ----------
    means : ndarray of shape (n_components, n_features)
        Component means.

    precisions_cholesky : ndarray
        Precision Cholesky factors in the layout of ``covariance_type``, as
        ``GaussianMixture.precisions_cholesky_``: any ``L_k`` with
        ``L_k @ L_k.T`` the precision matrix of component ``k``.

    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        Layout of ``precisions_cholesky``.

    dtype : numpy dtype
        Floating dtype the computation runs in (that of ``X``).

    check_finite_for : str, default=None
        Name of the estimator on whose behalf the public methods check that
        ``X`` holds no NaN or infinity, raising scikit-learn's error for that
        estimator. The compiled kernel does it in the pass that computes the
        distances (``X`` is read once); otherwise ``X`` is checked first. None
        when ``X`` is already checked.
    """

    def __init__(
        self, means, precisions_cholesky, covariance_type, dtype, check_finite_for=None
    ):
        means = np.asarray(means, dtype=np.float64)
        factors = np.asarray(precisions_cholesky, dtype=np.float64)
        n_components, n_features = means.shape
        self.n_components, self.n_features = n_components, n_features
        self.dtype = np.dtype(dtype)
        self.check_finite_for = check_finite_for
        self.diagonal = covariance_type in ("diag", "spherical")

        # X is centred on the centre rounded to the computation's dtype: the
        # mean offsets are taken from exactly that value, so that its
        # rounding error (large in float32 far from the origin) cancels.
        center = means.mean(axis=0).astype(self.dtype).astype(np.float64)
        offsets = means - center  # (K, d), the means in centred coordinates
        if covariance_type == "tied":
            factors = np.broadcast_to(factors, (n_components, n_features, n_features))
        elif covariance_type == "spherical":
            factors = np.broadcast_to(
                factors.reshape(n_components, 1), (n_components, n_features)
            )
        _check_factors(factors, covariance_type)

        if self.diagonal:
            # squared[k] = precisions[k] @ (x - c - offsets[k])**2
            weights = np.square(factors)[:, np.newaxis, :]  # (K, 1, d)
            self.offsets = np.ascontiguousarray(
                offsets[:, :, np.newaxis], dtype=self.dtype
            )  # (K, d, 1)
        else:
            # rows k*d .. k*d+d-1 of W: [L_k.T, -L_k.T @ (mu_k - c)]
            factors_t = np.swapaxes(factors, 1, 2)  # (K, d, d)
            bias = -np.einsum("kij,kj->ki", factors_t, offsets)
            weights = np.concatenate(
                [factors_t, bias[:, :, np.newaxis]], axis=2
            ).reshape(n_components * n_features, n_features + 1)
        self.center = center.astype(self.dtype)[:, np.newaxis]
        self.weights = np.ascontiguousarray(weights, dtype=self.dtype)
        self._compiled_params = compiled_parameters(
            self.center[:, 0], factors, offsets, covariance_type, self.dtype
        )
        self.n_inputs = n_features + (0 if self.diagonal else 1)
        self.n_outputs = n_components * n_features

    def _compiled(self, X, mode, limits, out, choice) -> None:
        """Run the compiled kernel; raise for NaN or infinity in X if asked."""
        finite = run_compiled(
            X, self._compiled_params, mode, limits, out, choice.instruction_set
        )
        if self.check_finite_for is not None and not finite:
            self._raise_non_finite(X)

    def checking_finite(self, name: str | None) -> "MahalanobisKernel":
        """This kernel, checking X for NaN and infinity on behalf of ``name``.

        A shallow copy (the parameters are shared) unless ``name`` is already
        this kernel's ``check_finite_for``.
        """
        if name == self.check_finite_for:
            return self
        kernel = copy.copy(self)
        kernel.check_finite_for = name
        return kernel

    def _raise_non_finite(self, X) -> None:
        """Raise scikit-learn's error for the NaN or infinity in X."""
        assert_all_finite(X, estimator_name=self.check_finite_for, input_name="X")

    def _check_width(self, X) -> None:
        """Refuse X that is not 2-D with one column per feature of the means.

        A model whose ``n_features_in_`` disagrees with its ``means_`` (left
        by a failed refit) would otherwise pass validation, and the compiled
        kernel would read each row of X as rows of the means' width.
        """
        shape = tuple(X.shape)
        if len(shape) != 2 or shape[1] != self.n_features:
            width = shape[1] if len(shape) == 2 else None
            raise ValueError(
                f"X has {width} features (shape {shape}), but the mixture's "
                f"means have {self.n_features} features (means_ of shape "
                f"({self.n_components}, {self.n_features})): distances need "
                "one column of X per feature of the means. Refit the mixture "
                "if its n_features_in_ disagrees with means_."
            )

    def _choice_for(self, X, xp) -> _KernelChoice:
        """This call's kernel choice; X is checked now unless its pass will."""
        choice = _kernel_choice.get()
        fused = choice.compiled and _is_numpy_namespace(xp)
        if self.check_finite_for is not None and not fused:
            self._raise_non_finite(X)
        return choice

    # -- chunking ---------------------------------------------------------
    def chunk_rows(self, n_samples: int) -> int:
        """Rows per chunk so that the work buffers fit in ``_CHUNK_BYTES``."""
        row_bytes = (
            self.dtype.itemsize * (self.n_inputs + self.n_outputs + self.n_components)
            + self.n_components
        )  # the boolean buffer of `within`
        rows = max(_MIN_CHUNK_ROWS, _CHUNK_BYTES // row_bytes)
        return int(max(1, min(rows, n_samples)))

    def _workspace(self, rows: int) -> dict:
        design = np.empty((self.n_inputs, rows), dtype=self.dtype)
        if not self.diagonal:
            design[-1] = 1.0
        return {
            "design": design,
            "whitened": np.empty((self.n_outputs, rows), self.dtype),
            "squared": np.empty((self.n_components, rows), self.dtype),
            "inside": np.empty((self.n_components, rows), dtype=bool),
        }

    def _squared_chunk(self, X_chunk: np.ndarray, workspace: dict) -> np.ndarray:
        """Squared distances of one chunk, shape (n_components, m), in place."""
        m, d = X_chunk.shape
        design = workspace["design"][:, :m]
        whitened = workspace["whitened"][:, :m]
        stacked = whitened.reshape(self.n_components, d, m)
        np.subtract(X_chunk.T, self.center, out=design[:d])
        squared = workspace["squared"][:, :m]
        if self.diagonal:
            np.subtract(design, self.offsets, out=stacked)
            np.square(stacked, out=stacked)
            np.matmul(self.weights, stacked, out=squared[:, np.newaxis, :])
        else:
            np.matmul(self.weights, design, out=whitened)
            # sum of squares over each component's n_features rows, one pass
            np.einsum("kdm,kdm->km", stacked, stacked, out=squared)
        return squared

    def _for_each_chunk(self, X: np.ndarray, consume) -> None:
        """Call ``consume(batch, squared, workspace)`` for every chunk of X.

        ``squared`` is the (n_components, m) block of squared distances of
        ``X[batch]``; it and ``workspace`` are reused by the next chunk of the
        same thread. Chunks run on up to the BLAS thread limit of threads.
        """
        n_samples = X.shape[0]
        rows = self.chunk_rows(n_samples)
        starts = range(0, n_samples, rows)

        def work(my_starts):
            workspace = self._workspace(rows)
            for start in my_starts:
                batch = slice(start, min(start + rows, n_samples))
                consume(batch, self._squared_chunk(X[batch], workspace), workspace)

        n_threads = 1
        if len(starts) >= _MIN_CHUNKS_FOR_THREADS:
            n_threads = min(_blas_threads(), len(starts))
        if n_threads == 1:
            work(starts)
            return
        groups = [starts[i::n_threads] for i in range(n_threads)]
        with _single_threaded_blas(), ThreadPoolExecutor(n_threads) as executor:
            for _ in executor.map(work, groups):
                pass

    # -- generic array API path -----------------------------------------
    def _map_xp(self, X, reduce):
        """Apply ``reduce`` to the squared distances of row chunks, concatenated.

        The generic path for non-NumPy array API namespaces (PyTorch, CuPy,
        array-api-strict ...): the same algebra with standard array API
        operations, on chunks of ``_XP_CHUNK_FACTOR`` times the CPU chunk
        rows so that device kernels stay large while no
        (n_samples, n_components, n_features) array is formed.
        """
        xp, _, device = get_namespace_and_device(X)
        center = xp.asarray(self.center[:, 0], device=device)
        weights = xp.asarray(self.weights, device=device)
        if self.diagonal:
            precisions = xp.reshape(weights, (self.n_components, self.n_features))
            offsets = xp.asarray(self.offsets[:, :, 0], device=device)
        n_samples = X.shape[0]
        rows = _XP_CHUNK_FACTOR * self.chunk_rows(n_samples)
        parts = []
        for start in range(0, n_samples, rows):
            centred = X[start : min(start + rows, n_samples), ...] - center
            m = centred.shape[0]
            if self.diagonal:
                diff = centred[:, None, :] - offsets
                squared = xp.sum(diff * diff * precisions, axis=2)
            else:
                ones = xp.ones((m, 1), dtype=X.dtype, device=device)
                whitened = xp.reshape(
                    xp.concat([centred, ones], axis=1) @ weights.T,
                    (m, self.n_components, self.n_features),
                )
                squared = xp.sum(whitened * whitened, axis=2)
            parts.append(reduce(squared))
        return xp.concat(parts, axis=0)

    # -- public entry points ---------------------------------------------
    def _target(self, X, out, compiled: bool) -> np.ndarray:
        """The array the kernel writes into: ``out``, or a temporary.

        A temporary (copied into ``out`` afterwards) when ``out`` may share
        memory with X, unless it is X itself row for row (each row is read
        before its result is written), and, for the compiled kernel, when
        ``out`` is not a C-contiguous, aligned array of the kernel's dtype.
        """
        if out is None:
            return np.empty((X.shape[0], self.n_components), dtype=self.dtype)
        direct = not np.may_share_memory(out, X) or _same_rows(out, X)
        if compiled:
            direct = (
                direct
                and out.dtype == self.dtype
                and out.flags.c_contiguous
                and out.flags.aligned
                and out.flags.writeable
            )
        return out if direct else np.empty(out.shape, dtype=self.dtype)

    def _squared_or_distances(self, X, out, root: bool):
        """Squared distances, or their square roots, into ``out`` (or new)."""
        xp, _, _ = get_namespace_and_device(X)
        self._check_width(X)
        choice = self._choice_for(X, xp)
        if not _is_numpy_namespace(xp):
            return self._map_xp(X, xp.sqrt if root else (lambda squared: squared))
        target = self._target(X, out, choice.compiled)
        if out is None:
            out = target
        if choice.compiled:
            self._compiled(
                X, _MODE_SQUARED, np.zeros(self.n_components), target, choice
            )
            if root:
                np.sqrt(target, out=out)
            elif target is not out:
                out[...] = target
            return out

        def consume(batch, squared, workspace):
            if root:
                np.sqrt(squared.T, out=target[batch])
            else:
                target[batch] = squared.T

        self._for_each_chunk(X, consume)
        if target is not out:
            out[...] = target
        return out

    def squared(self, X, out=None):
        """Squared distances, shape (n_samples, n_components).

        ``out``, when given, is an array of that shape and of the kernel's
        dtype that receives the result (NumPy input only). It may overlap X:
        the result is then computed into a temporary first, unless ``out``
        is X itself (same memory, layout and dtype), which is safe in place.
        """
        return self._squared_or_distances(X, out, root=False)

    def distances(self, X, out=None):
        """Distances (not squared), shape (n_samples, n_components).

        ``out`` as in :meth:`squared`.
        """
        return self._squared_or_distances(X, out, root=True)

    def within(self, X, squared_thresholds, per_component=False):
        """Boolean membership, without forming the full distance matrix."""
        xp, _, device = get_namespace_and_device(X)
        squared_thresholds = np.asarray(squared_thresholds).astype(self.dtype)
        self._check_width(X)
        choice = self._choice_for(X, xp)
        if not _is_numpy_namespace(xp):
            limits = xp.asarray(squared_thresholds, device=device)
            if per_component:
                return self._map_xp(X, lambda squared: squared <= limits)
            return self._map_xp(X, lambda squared: xp.any(squared <= limits, axis=1))
        if choice.compiled:
            shape = (X.shape[0], self.n_components) if per_component else X.shape[0]
            out = np.empty(shape, dtype=bool)
            mode = _MODE_WITHIN_EACH if per_component else _MODE_WITHIN
            self._compiled(X, mode, squared_thresholds, out, choice)
            return out
        column = squared_thresholds[:, np.newaxis]
        if per_component:
            out = np.empty((X.shape[0], self.n_components), dtype=bool)

            def consume(batch, squared, workspace):
                np.less_equal(squared.T, squared_thresholds, out=out[batch])

        else:
            out = np.empty(X.shape[0], dtype=bool)

            def consume(batch, squared, workspace):
                inside = workspace["inside"][:, : squared.shape[1]]
                np.less_equal(squared, column, out=inside)
                np.logical_or.reduce(inside, axis=0, out=out[batch])

        self._for_each_chunk(X, consume)
        return out

    def min_scaled(self, X, scales):
        """``min_k scales[k] * squared_distance_k`` per sample, shape (n_samples,).

        With ``scales = 1 / n_sigma_k**2`` this is the squared distance in
        units of each component's own threshold: a sample is inside at least
        one ellipsoid exactly when the result is <= 1. A component with
        ``scales[k] = inf`` is ignored (at least one must be finite). The
        (n_samples, n_components) matrix is never formed.
        """
        xp, _, device = get_namespace_and_device(X)
        scales = np.asarray(scales, dtype=np.float64)
        active = np.isfinite(scales)
        if not active.any():
            raise ValueError("At least one component must have a finite scale.")
        self._check_width(X)
        choice = self._choice_for(X, xp)
        if not _is_numpy_namespace(xp):
            index = xp.asarray(np.flatnonzero(active), device=device)
            factors = xp.asarray(scales[active].astype(self.dtype), device=device)
            return self._map_xp(
                X,
                lambda squared: xp.min(
                    xp.take(squared, index, axis=1) * factors, axis=1
                ),
            )
        out = np.empty(X.shape[0], dtype=self.dtype)
        if choice.compiled:
            # the kernel leaves out the components whose scale is not finite
            self._compiled(X, _MODE_MIN_SCALED, scales.astype(self.dtype), out, choice)
            return out
        column = scales[active].astype(self.dtype)[:, np.newaxis]
        everything = bool(active.all())

        def consume(batch, squared, workspace):
            if not everything:
                squared = squared[active]
            np.multiply(squared, column, out=squared)
            np.minimum.reduce(squared, axis=0, out=out[batch])

        self._for_each_chunk(X, consume)
        return out
