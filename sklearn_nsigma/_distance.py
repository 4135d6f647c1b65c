"""Chunked Mahalanobis distances of samples to every mixture component.

One kernel serves every public method that needs distances. Rows of ``X`` are
processed in cache-sized chunks; each chunk costs one matrix product against a
small matrix that stacks the precision Cholesky factors of all components (the
mean offsets folded in as an extra row), so every component is handled by a
single BLAS call. No array of shape (n_samples, n_components, n_features) is
ever formed, float32 input is computed in float32 (the small factor matrices
are cast, never ``X``), and the (n_samples, n_components) matrix is only
written when the caller asks for it.

Two layouts are used:

* ``full`` and ``tied``: ``[X - c, 1] @ W`` with ``W`` of shape
  (n_features + 1, n_components * n_features) gives the whitened offsets
  ``(x - mu_k) @ L_k`` of every component side by side (one GEMM); their
  squared norms are the squared distances.
* ``diag`` and ``spherical``: the factors are diagonal, so the whitened
  offsets ``(x - c) * s_k - (mu_k - c) * s_k`` are formed by broadcasting
  into the same (chunk, n_components * n_features) buffer; a GEMM against a
  block-diagonal matrix would waste a factor n_features of work.

In both cases the offsets are formed before squaring (never the expanded
square ``|x|^2 - 2 x.mu + |mu|^2``, which loses all precision near the
means in float32)."""

import numpy as np

from sklearn_nsigma._compat import _is_numpy_namespace, get_namespace_and_device

# Bytes of per-chunk work buffers: small enough to stay in a core's L2 cache.
_CHUNK_BYTES = 1 << 20
_MIN_CHUNK_ROWS = 16


def _check_factors(factors: np.ndarray, covariance_type: str) -> None:
    """Reject precision factors that are non-finite or not positive.

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
            else (f"Component(s) {which} of the mixture")
        )
        raise ValueError(
            f"{what} has a singular or non-finite covariance: its precision "
            "Cholesky factor (precisions_cholesky_) is not finite and "
            f"invertible (covariance_type={covariance_type!r}, "
            f"n_components={n_components}). Mahalanobis distances are not "
            "defined; refit with a larger reg_covar or fix the component."
        )


class MahalanobisKernel:
    """Squared Mahalanobis distances of row chunks to all components.

    Parameters
    ----------
    means : ndarray of shape (n_components, n_features)
        Component means.

    precisions_cholesky : ndarray
        Precision Cholesky factors in the layout of ``covariance_type``, as
        ``GaussianMixture.precisions_cholesky_``.

    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        Layout of ``precisions_cholesky``.

    dtype : numpy dtype
        Floating dtype the computation runs in (that of ``X``).
    """

    def __init__(self, means, precisions_cholesky, covariance_type, dtype):
        means = np.asarray(means, dtype=np.float64)
        factors = np.asarray(precisions_cholesky, dtype=np.float64)
        n_components, n_features = means.shape
        self.n_components, self.n_features = n_components, n_features
        self.dtype = np.dtype(dtype)
        self.diagonal = covariance_type in ("diag", "spherical")

        center = means.mean(axis=0)
        offsets = means - center  # (K, d), the means in centred coordinates
        if covariance_type == "tied":
            factors = np.broadcast_to(factors, (n_components, n_features, n_features))
        elif covariance_type == "spherical":
            factors = np.broadcast_to(
                factors.reshape(n_components, 1), (n_components, n_features)
            )
        _check_factors(factors, covariance_type)

        if self.diagonal:
            # whitened = (x - c) * scales - shifts, per component
            weights = factors  # (K, d)
            self.shifts = np.ascontiguousarray(offsets * factors, dtype=self.dtype)
        else:
            bias = -np.einsum("kd,kde->ke", offsets, factors)  # -(mu_k - c) @ L_k
            weights = np.concatenate(
                [
                    np.concatenate(list(factors), axis=1),  # (d, K * d)
                    bias.reshape(1, n_components * n_features),
                ]
            )  # (d + 1, K * d)
        self.center = center.astype(self.dtype)
        self.weights = np.ascontiguousarray(weights, dtype=self.dtype)
        self.n_inputs = n_features if self.diagonal else n_features + 1
        self.n_outputs = n_components * n_features

    # -- chunking ---------------------------------------------------------
    def chunk_rows(self, n_samples: int) -> int:
        """Rows per chunk so that the work buffers fit in ``_CHUNK_BYTES``."""
        row_bytes = self.dtype.itemsize * (
            self.n_inputs + self.n_outputs + self.n_components
        )
        rows = max(_MIN_CHUNK_ROWS, _CHUNK_BYTES // row_bytes)
        return int(max(1, min(rows, n_samples)))

    def _workspace(self, rows: int) -> dict:
        design = np.empty((rows, self.n_inputs), dtype=self.dtype)
        if not self.diagonal:
            design[:, -1] = 1.0
        return {
            "design": design,
            "whitened": np.empty((rows, self.n_outputs), self.dtype),
            "squared": np.empty((rows, self.n_components), self.dtype),
        }

    def _squared_chunk(self, X_chunk: np.ndarray, workspace: dict) -> np.ndarray:
        """Squared distances of one chunk, written into the workspace."""
        m, d = X_chunk.shape
        design = workspace["design"][:m]
        whitened = workspace["whitened"][:m]
        np.subtract(X_chunk, self.center, out=design[:, :d])
        if self.diagonal:
            stacked = whitened.reshape(m, self.n_components, d)
            np.multiply(design[:, np.newaxis, :], self.weights, out=stacked)
            np.subtract(stacked, self.shifts, out=stacked)
        else:
            np.matmul(design, self.weights, out=whitened)
        np.square(whitened, out=whitened)
        squared = workspace["squared"][:m]
        np.add.reduce(whitened.reshape(m, self.n_components, d), axis=2, out=squared)
        return squared

    def _chunks(self, X: np.ndarray):
        """Yield (slice, squared distances of that slice) over all of X."""
        n_samples = X.shape[0]
        rows = self.chunk_rows(n_samples)
        workspace = self._workspace(rows)
        for start in range(0, n_samples, rows):
            batch = slice(start, min(start + rows, n_samples))
            yield batch, self._squared_chunk(X[batch], workspace)

    # -- generic array API path -----------------------------------------
    def _squared_xp(self, X, xp, device):
        center = xp.asarray(self.center, device=device)
        weights = xp.asarray(self.weights, device=device)
        centred = X - center
        if self.diagonal:
            whitened = centred[:, None, :] * weights - xp.asarray(
                self.shifts, device=device
            )
        else:
            ones = xp.ones((X.shape[0], 1), dtype=X.dtype, device=device)
            whitened = xp.reshape(
                xp.concat([centred, ones], axis=1) @ weights,
                (X.shape[0], self.n_components, self.n_features),
            )
        return xp.sum(whitened * whitened, axis=2)

    # -- public entry points ---------------------------------------------
    def squared(self, X, out=None):
        """Squared distances, shape (n_samples, n_components)."""
        xp, is_array_api, device = get_namespace_and_device(X)
        if not _is_numpy_namespace(xp):
            return self._squared_xp(X, xp, device)
        if out is None:
            out = np.empty((X.shape[0], self.n_components), dtype=self.dtype)
        for batch, squared in self._chunks(X):
            out[batch] = squared
        return out

    def within(self, X, squared_thresholds, per_component=False):
        """Boolean membership, without forming the full distance matrix."""
        xp, is_array_api, device = get_namespace_and_device(X)
        squared_thresholds = squared_thresholds.astype(self.dtype)
        if not _is_numpy_namespace(xp):
            inside = self._squared_xp(X, xp, device) <= xp.asarray(
                squared_thresholds, device=device
            )
            return inside if per_component else xp.any(inside, axis=1)
        shape = (X.shape[0], self.n_components) if per_component else X.shape[0]
        out = np.empty(shape, dtype=bool)
        inside = None
        for batch, squared in self._chunks(X):
            if per_component:
                np.less_equal(squared, squared_thresholds, out=out[batch])
            else:
                if inside is None:
                    inside = np.empty(squared.shape, dtype=bool)
                chunk_inside = inside[: squared.shape[0]]
                np.less_equal(squared, squared_thresholds, out=chunk_inside)
                np.logical_or.reduce(chunk_inside, axis=1, out=out[batch])
        return out

    def min_scaled(self, X, scales):
        """``min_k scales[k] * squared_distance_k`` per sample, shape (n_samples,).

        With ``scales = 1 / n_sigma_k**2`` this is the squared distance in
        units of each component's own threshold: a sample is inside at least
        one ellipsoid exactly when the result is <= 1. A component with
        ``scales[k] = inf`` is ignored (unless every scale is inf). The
        (n_samples, n_components) matrix is never formed.
        """
        xp, is_array_api, device = get_namespace_and_device(X)
        scales = np.asarray(scales, dtype=np.float64)
        active = np.isfinite(scales)
        if not active.any():
            raise ValueError("At least one component must have a finite scale.")
        if not _is_numpy_namespace(xp):
            squared = self._squared_xp(X, xp, device)
            index = xp.asarray(np.flatnonzero(active), device=device)
            scaled = xp.take(squared, index, axis=1) * xp.asarray(
                scales[active].astype(self.dtype), device=device
            )
            return xp.min(scaled, axis=1)
        out = np.empty(X.shape[0], dtype=self.dtype)
        active_scales = scales[active].astype(self.dtype)
        everything = bool(active.all())
        for batch, squared in self._chunks(X):
            if not everything:
                squared = squared[:, active]
            np.multiply(squared, active_scales, out=squared)
            np.minimum.reduce(squared, axis=1, out=out[batch])
        return out
