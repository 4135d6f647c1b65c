"""The hooks of scikit-learn's mixtures that run EM on this package's kernels.

scikit-learn's ``BaseMixture.fit_predict`` keeps the fit loop (initialisation,
``n_init``, ``warm_start``, convergence on the lower bound); the mixins here
replace the hooks it calls for NumPy input, so that every fitted attribute,
``n_iter_`` and ``lower_bound_`` are those of the parent class up to rounding.
Array API input (``array_api_dispatch``) keeps the parent's code path.

The E-step (:mod:`sklearn_nsigma._em_estep`) takes the log-sum-exp of the
weighted log-probabilities from the squared distances of the distance kernel
and, in the same pass over ``X``, adds up the sums of the next M-step
(:mod:`sklearn_nsigma._em_moments`); the M-step then only turns these sums
into the parameters. Both run on the compiled kernels where they are built,
on NumPy otherwise, with the same answers.
"""

import math

import numpy as np
from scipy.special import digamma
from sklearn.mixture import BayesianGaussianMixture

from sklearn_nsigma._compat import (
    _compute_log_det_cholesky,
    _compute_precision_cholesky,
    _compute_precision_cholesky_from_precisions,
    _is_numpy_namespace,
    get_namespace,
)
from sklearn_nsigma._distance import MahalanobisKernel, _single_threaded_blas
from sklearn_nsigma._em_estep import log_prob_resp
from sklearn_nsigma._em_moments import (
    _center,
    _Moments,
    estimate_gaussian_parameters,
    gaussian_statistics,
    sample_covariance,
)


def _gaussian_log_offsets(means, precisions_cholesky, covariance_type):
    """``-d log(2 pi) / 2 + log det(L_k)``: the log-density at distance 0."""
    n_features = means.shape[1]
    log_det = _compute_log_det_cholesky(
        precisions_cholesky, covariance_type, n_features
    )
    # in the dtype of the factors, as scikit-learn's log-probabilities
    return np.asarray(log_det) - 0.5 * n_features * math.log(2 * math.pi)


# -- the hooks of BaseMixture -------------------------------------------------
def regularization(estimator):
    """What the M-step adds to the covariances' diagonal.

    ``reg_covar``, or, where the detector gave its default mixture a
    per-feature floor (``_variance_floor``, the variance of rounding to each
    feature's quantum), the larger of the two for every feature.
    """
    floor = getattr(estimator, "_variance_floor", None)
    if floor is None:
        return estimator.reg_covar
    return np.maximum(estimator.reg_covar, floor)


class _KernelEMMixin:
    """EM steps of a Gaussian mixture on the distance kernel, for NumPy input.

    Used left of a scikit-learn mixture class, whose ``fit_predict`` runs the
    loop. ``_e_step`` also adds up the next M-step's sums while each chunk of
    responsibilities is in cache and keeps them until ``_m_step`` is called
    with the same log-responsibilities (otherwise ``_m_step`` computes them
    from its arguments). ``_log_prob_offsets`` and ``_update_parameters``
    are each class's own parts.
    """

    # whether the lower bound needs sum(resp * log_resp)
    _needs_entropy = False

    def _numpy_input(self, X, xp) -> bool:
        xp, _ = get_namespace(X, xp=xp)
        return _is_numpy_namespace(xp) and isinstance(X, np.ndarray)

    def _em_kernel(self, X, offsets) -> MahalanobisKernel:
        """The kernel in the dtype of the parent's log-probabilities."""
        dtype = np.result_type(
            X.dtype, self.means_.dtype, self.precisions_cholesky_.dtype, offsets.dtype
        )
        return MahalanobisKernel(
            self.means_, self.precisions_cholesky_, self.covariance_type, dtype
        )

    def _weighted_offsets(self, n_features) -> np.ndarray:
        return np.asarray(self._log_prob_offsets(n_features)) + np.asarray(
            self._estimate_log_weights()
        )

    def _kernel_log_prob(self, X, offsets) -> np.ndarray:
        kernel = self._em_kernel(X, offsets)
        log_prob = kernel.squared(X)
        log_prob *= -0.5
        log_prob += offsets.astype(kernel.dtype)
        return log_prob

    def _estimate_log_prob(self, X, xp=None):
        if not self._numpy_input(X, xp):
            return super()._estimate_log_prob(X, xp=xp)
        return self._kernel_log_prob(X, self._log_prob_offsets(X.shape[1]))

    def _estimate_weighted_log_prob(self, X, xp=None):
        if not self._numpy_input(X, xp):
            return super()._estimate_weighted_log_prob(X, xp=xp)
        return self._kernel_log_prob(X, self._weighted_offsets(X.shape[1]))

    def _fused_e_step(self, X, norm_out=None, moments=None, reuse=None):
        offsets = self._weighted_offsets(X.shape[1])
        kernel = self._em_kernel(X, offsets)
        shape = (X.shape[0], kernel.n_components)
        if reuse is not None and reuse.shape == shape and reuse.dtype == kernel.dtype:
            log_resp = reuse
        else:
            log_resp = np.empty(shape, dtype=kernel.dtype)
        if norm_out is True:
            norm_out = np.empty(X.shape[0], dtype=kernel.dtype)
        total, stats = log_prob_resp(
            X,
            kernel,
            offsets,
            resp_out=log_resp,
            norm_out=norm_out,
            moments=moments,
        )
        return total, log_resp, stats, norm_out

    def _estimate_log_prob_resp(self, X, xp=None):
        if not self._numpy_input(X, xp):
            return super()._estimate_log_prob_resp(X, xp=xp)
        _, log_resp, _, log_prob_norm = self._fused_e_step(X, norm_out=True)
        return log_prob_norm, log_resp

    def _e_step(self, X, xp=None):
        if not self._numpy_input(X, xp):
            return super()._e_step(X, xp=xp)
        # Inside fit, the previous iteration's log-responsibilities are dead
        # once the E-step starts: their array is reused (one (n, K) array),
        # and the centre of the sums is computed once.
        reuse = self.__dict__.get("_em_fitting")
        center = self.__dict__.get("_em_center")
        if center is None or center[0] is not X:
            center = (X, _center(X))
            if reuse is not None:
                self._em_center = center
        moments = _Moments(
            X,
            self.n_components,
            self.covariance_type,
            entropy=self._needs_entropy,
            center=center[1],
        )
        total, log_resp, stats, _ = self._fused_e_step(
            X, moments=moments, reuse=reuse if isinstance(reuse, np.ndarray) else None
        )
        if reuse is not None:
            self._em_fitting = log_resp
        self._em_pending = (X, log_resp, stats)
        return log_resp.dtype.type(total / X.shape[0]), log_resp

    def _m_step(self, X, log_resp, xp=None):
        if not self._numpy_input(X, xp):
            return super()._m_step(X, log_resp, xp=xp)
        pending = self.__dict__.pop("_em_pending", None)
        if pending is not None and pending[0] is X and pending[1] is log_resp:
            stats = pending[2]
        else:
            stats = gaussian_statistics(
                X, log_resp, self.covariance_type, entropy=self._needs_entropy
            )
        self._update_parameters(X, log_resp, stats)

    def _kernel_initialization(self, X, resp, xp) -> bool:
        """Whether ``_initialize`` takes its parameters from the kernel sums.

        Not for ``tied``: the parent's tied covariance subtracts uncentred
        second moments, which depend on the origin unless every row of
        ``resp`` sums to 1, and ``init_params='random_from_data'`` gives rows
        of zeros; the parent's code gives its answer.
        """
        return (
            resp is not None
            and self.covariance_type != "tied"
            and self._numpy_input(X, xp)
        )

    def _gaussian_parameters(self, X, resp_dtype, stats):
        """``(nk, means, covariances)`` as scikit-learn's M-step has them."""
        return estimate_gaussian_parameters(
            stats, resp_dtype, X.dtype, regularization(self), self.covariance_type
        )

    def fit_predict(self, X, y=None):
        self._em_fitting = True
        try:
            return super().fit_predict(X, y)
        finally:
            # the last E-step's sums (and its log_resp) are not needed
            for name in ("_em_fitting", "_em_pending", "_resp_entropy", "_em_center"):
                self.__dict__.pop(name, None)


def set_initial_parameters(estimator, counts, means, covariances, n_samples, xp=None):
    """``GaussianMixture._initialize`` from the M-step's ``(nk, xk, sk)``.

    The user's ``weights_init``, ``means_init`` and ``precisions_init``
    take precedence, as in scikit-learn; ``counts`` etc. may be None where
    they do. Shared by the in-memory and the Dask fits.
    """
    if estimator.weights_init is None:
        estimator.weights_ = np.asarray(counts / n_samples)
    else:
        estimator.weights_ = np.asarray(estimator.weights_init)
    estimator.means_ = means if estimator.means_init is None else estimator.means_init
    with _single_threaded_blas():
        if estimator.precisions_init is None:
            estimator.covariances_ = covariances
            estimator.precisions_cholesky_ = _compute_precision_cholesky(
                covariances, estimator.covariance_type
            )
        else:
            if xp is None:
                xp, _ = get_namespace(estimator.precisions_init)
            estimator.precisions_cholesky_ = (
                _compute_precision_cholesky_from_precisions(
                    estimator.precisions_init, estimator.covariance_type, xp=xp
                )
            )


def set_updated_parameters(estimator, counts, means, covariances) -> None:
    """The M-step of either mixture from ``(nk, xk, sk)`` (small matrices).

    ``BayesianGaussianMixture``'s posterior updates, or
    ``GaussianMixture``'s parameters; shared by the in-memory and the Dask
    fits.
    """
    with _single_threaded_blas():
        if isinstance(estimator, BayesianGaussianMixture):
            estimator._estimate_weights(counts)
            estimator._estimate_means(counts, means)
            estimator._estimate_precisions(counts, means, covariances)
            return
        estimator.weights_ = counts / counts.sum()
        estimator.means_ = means
        estimator.covariances_ = covariances
        estimator.precisions_cholesky_ = _compute_precision_cholesky(
            covariances, estimator.covariance_type
        )


class GaussianEMMixin(_KernelEMMixin):
    """The kernel EM steps of :class:`~sklearn.mixture.GaussianMixture`."""

    def _log_prob_offsets(self, n_features):
        return _gaussian_log_offsets(
            self.means_, self.precisions_cholesky_, self.covariance_type
        )

    def _initialize(self, X, resp, xp=None):
        # GaussianMixture._initialize, with the sums of the kernel M-step
        if not self._kernel_initialization(X, resp, xp):
            return super()._initialize(X, resp, xp=xp)
        stats = gaussian_statistics(X, resp, self.covariance_type, log=False)
        set_initial_parameters(
            self,
            *self._gaussian_parameters(X, resp.dtype, stats),
            X.shape[0],
            xp=get_namespace(X)[0],
        )

    def _update_parameters(self, X, log_resp, stats):
        # GaussianMixture._m_step, from the sums
        set_updated_parameters(
            self, *self._gaussian_parameters(X, log_resp.dtype, stats)
        )


class BayesianEMMixin(_KernelEMMixin):
    """The kernel EM steps of :class:`~sklearn.mixture.BayesianGaussianMixture`.

    The E-step also sums ``resp * log_resp``, the entropy term of the lower
    bound, so that ``_compute_lower_bound`` need not read the
    responsibilities again.
    """

    _needs_entropy = True

    def _log_prob_offsets(self, n_features):
        # _estimate_log_prob of BayesianGaussianMixture at distance 0
        degrees = self.degrees_of_freedom_
        log_lambda = n_features * np.log(2.0) + np.sum(
            digamma(0.5 * (degrees - np.arange(0, n_features)[:, np.newaxis])), 0
        )
        return (
            _gaussian_log_offsets(
                self.means_, self.precisions_cholesky_, self.covariance_type
            )
            - 0.5 * n_features * np.log(degrees)
            + 0.5 * (log_lambda - n_features / self.mean_precision_)
        )

    def _checkcovariance_prior_parameter(self, X):
        # The parent's default prior (np.cov(X.T) for full and tied, the
        # variances np.var(X, axis=0, ddof=1) or their mean otherwise), but
        # only the covariance type's (the parent computes all four) and
        # without the copies of X that np.cov and np.var make.
        if self.covariance_prior is not None or not isinstance(X, np.ndarray):
            return super()._checkcovariance_prior_parameter(X)
        if self.covariance_type in ("full", "tied"):
            self.covariance_prior_ = np.atleast_2d(sample_covariance(X))
        else:
            # np.var keeps float32 as float32
            variances = sample_covariance(X, diagonal=True).astype(X.dtype)
            self.covariance_prior_ = (
                variances if self.covariance_type == "diag" else variances.mean()
            )

    def _initialize(self, X, resp):
        if not self._kernel_initialization(X, resp, None):
            return super()._initialize(X, resp)
        stats = gaussian_statistics(X, resp, self.covariance_type, log=False)
        set_updated_parameters(self, *self._gaussian_parameters(X, resp.dtype, stats))

    def _update_parameters(self, X, log_resp, stats):
        # BayesianGaussianMixture._m_step, from the sums
        set_updated_parameters(
            self, *self._gaussian_parameters(X, log_resp.dtype, stats)
        )
        self._resp_entropy = (log_resp, stats["entropy"])

    def _compute_lower_bound(self, log_resp, log_prob_norm):
        cached = self.__dict__.pop("_resp_entropy", None)
        if cached is None or cached[0] is not log_resp:
            return super()._compute_lower_bound(log_resp, log_prob_norm)
        # the parent's bound with -sum(resp * log_resp) replaced by the sum
        # taken with the M-step's: the parent computes it with log_resp of zeros
        zeros = np.zeros((1, log_resp.shape[1]), dtype=log_resp.dtype)
        return super()._compute_lower_bound(zeros, log_prob_norm) - cached[1]
