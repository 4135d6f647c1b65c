"""EM for Gaussian mixtures on row-chunked Dask arrays.

:func:`fit_dask` runs the loop of ``BaseMixture.fit_predict`` (``n_init``,
``warm_start``, ``tol``, ``max_iter``, ``verbose``, the convergence warning,
best of ``n_init``) on any :class:`~sklearn.mixture.GaussianMixture` or
:class:`~sklearn.mixture.BayesianGaussianMixture`, subclasses included,
without gathering ``X``. Each iteration is one pass over the blocks where
they live: every block runs the estimator's own E-step (the fused E-step of
:mod:`sklearn_nsigma._em` for this package's mixtures, otherwise
``_estimate_log_prob_resp``, so a faster subclass is faster here too) and
returns only its sufficient statistics. The M-step runs on the driver, on
the pooled statistics, with the parent class's own update code.

The statistics and their pooling are in :mod:`sklearn_nsigma._dask_stats`,
the initialisations in :mod:`sklearn_nsigma._dask_init`, and the parameters
are set from the pooled sums as the in-memory fit sets them
(:mod:`sklearn_nsigma._em`); this module holds the loop and the lower bound.

Dask is an optional dependency; this module imports it only when called.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture
from sklearn.utils import check_random_state

from sklearn_nsigma._compat import (
    _check_feature_names,
    _check_n_features,
    get_namespace,
)
from sklearn_nsigma._dask_init import _initial_source, _Ones
from sklearn_nsigma._dask_stats import _Blocks, _gaussian_parameters
from sklearn_nsigma._em import (
    regularization,
    set_initial_parameters,
    set_updated_parameters,
)

#: Dask configuration key read when ``persist=None``: set it to False, e.g.
#: ``dask.config.set({"sklearn_nsigma.fit.persist": False})``, to recompute
#: the blocks at every EM iteration instead of keeping them on the workers.
PERSIST_CONFIG_KEY = "sklearn_nsigma.fit.persist"


# -- from statistics to parameters and the lower bound ----------------------------
def _initialize(estimator, parameters, n_samples) -> None:
    """The parent's ``_initialize`` from the pooled ``(nk, xk, sk)``, or None."""
    if isinstance(estimator, BayesianGaussianMixture):
        set_updated_parameters(estimator, *parameters)
    else:
        set_initial_parameters(estimator, *(parameters or (None,) * 3), n_samples)


def _lower_bound(estimator, stats, n_samples, dtype):
    """The parent's ``_compute_lower_bound``, from the pooled statistics.

    It is called with one zero log-responsibility, which makes the
    Bayesian entropy term ``-sum(r log r)`` zero; the pooled sum replaces it.
    """
    log_prob_norm = dtype(stats.log_prob_norm_sum / n_samples)
    bound = estimator._compute_lower_bound(np.zeros((1, 1), dtype=dtype), log_prob_norm)
    if isinstance(estimator, BayesianGaussianMixture):
        bound = bound - stats.resp_log_resp_sum
    return bound


def _moment_proxy(stats, dtype):
    """``d + 1`` rows with the mean and the covariance (ddof=1) of X.

    ``_check_parameters`` reads X only through its number of features, its
    mean and its covariance (the Bayesian priors); this small array gives it
    exactly those, so any subclass's own checks run unchanged.
    """
    n_samples = stats.resp_sum[0]
    mean = stats.weighted_sum[0] / n_samples
    covariance = stats.scatter[0] / max(n_samples - 1.0, 1.0)
    n_features = mean.shape[0]
    centring = np.eye(n_features + 1) - 1.0 / (n_features + 1)
    basis = np.linalg.svd(centring)[0][:, :n_features]
    values, vectors = np.linalg.eigh(covariance)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    return (mean + np.sqrt(n_features) * basis @ root.T).astype(dtype)


# -- the fit -------------------------------------------------------------------
def _check_estimator(estimator):
    if not isinstance(estimator, GaussianMixture | BayesianGaussianMixture):
        raise TypeError(
            "estimator must be a GaussianMixture or a BayesianGaussianMixture "
            f"(or a subclass), got {type(estimator).__name__}."
        )


def validate_dask_data(estimator, X):
    """``validate_data(estimator, X)`` for a Dask array, without computing it.

    Checks that X is 2-D, real, chunked along rows only, with known chunk
    sizes and at least 2 rows; sets ``n_features_in_`` (and removes
    ``feature_names_in_``); returns X as float64, or float32 if it is.
    Non-finite values are found when the blocks are computed.
    """
    from sklearn_nsigma._dask import check_row_blocks

    where = f"{type(estimator).__name__}.fit()"
    check_row_blocks(X, where)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    n_samples = X.shape[0]
    if np.isnan(n_samples):
        raise ValueError(
            f"X has unknown chunk sizes in {where}; call X.compute_chunk_sizes() first."
        )
    if n_samples < 2:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={X.shape}) while a "
            f"minimum of 2 is required by {type(estimator).__name__}."
        )
    _check_feature_names(estimator, X, reset=True)
    _check_n_features(estimator, X, reset=True)
    return X


def _check_dask_X(estimator, X):
    X = validate_dask_data(estimator, X)
    if X.shape[0] < estimator.n_components:
        raise ValueError(
            "Expected n_samples >= n_components "
            f"but got n_components = {estimator.n_components}, "
            f"n_samples = {X.shape[0]}"
        )
    return X


def _resolve_persist(persist):
    if persist is not None:
        return bool(persist)
    import dask

    return bool(dask.config.get(PERSIST_CONFIG_KEY, default=True))


def fit_dask(estimator, X, y=None, *, persist: bool | None = None):
    """Fit a Gaussian mixture by EM on a Dask array chunked along rows.

    The same algorithm and the same answer as ``estimator.fit(X)`` on the
    data in memory (``n_init``, ``warm_start``, ``tol``, ``max_iter``,
    ``verbose``, the ``ConvergenceWarning``, best of ``n_init``), but ``X``
    is never gathered: each EM iteration maps the E-step over the blocks
    where they live and brings back only per-block sufficient statistics;
    the M-step runs on those. Runs on the active Dask scheduler (a
    ``distributed.Client`` if one is active).

    Parameters
    ----------
    estimator : GaussianMixture or BayesianGaussianMixture
        The mixture to fit, in place; subclasses included (their E-step,
        ``_estimate_log_prob_resp``, runs on every block).

    X : dask.array.Array of shape (n_samples, n_features)
        The data, chunked along rows only, with known chunk sizes. Integer
        data are cast to float64; float32 stays float32.

    y : Ignored
        Not used, present for API consistency by convention.

    persist : bool, default=None
        Whether to keep the blocks of X in the workers' memory during the
        fit (True), or to compute them again at every pass (False: for data
        larger than the cluster's memory, such as rows read from files or
        generated lazily). None reads the Dask configuration key
        ``"sklearn_nsigma.fit.persist"`` (default True), which is how
        ``NSigmaGaussianMixture.fit`` is told.

    Returns
    -------
    estimator : GaussianMixture or BayesianGaussianMixture
        The fitted estimator. If anything fails, it is left as it was.

    Notes
    -----
    Initialisation (``init_params``): arrays of at most
    ``INIT_SAMPLE_ROWS`` (100 000) rows are taken whole, and every method
    draws exactly what the in-memory fit draws. Larger arrays: ``"random"``
    draws each block's responsibilities from its own seed;
    ``"random_from_data"`` picks rows of the whole array; ``"kmeans"`` runs
    dask-ml's distributed k-means (k-means|| seeding) when dask-ml is
    installed, and otherwise scikit-learn's ``KMeans`` on a uniform sample
    of about 100 000 rows, whose centres then label every row;
    ``"k-means++"`` seeds on such a sample. ``weights_init``, ``means_init``
    and ``precisions_init`` work as in memory.

    The first pass over X checks that it is finite and computes its mean
    and covariance (the Bayesian mixture's default priors).

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture
    >>> from sklearn_nsigma import fit_dask
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(0, 1, (500, 2)), rng.normal(6, 1, (500, 2))])
    >>> X_dask = da.from_array(X, chunks=(250, 2))
    >>> gmm = fit_dask(GaussianMixture(2, random_state=0), X_dask)
    >>> in_memory = GaussianMixture(2, random_state=0).fit(X)
    >>> bool(np.allclose(gmm.means_, in_memory.means_, rtol=1e-10))
    True
    >>> gmm.n_iter_ == in_memory.n_iter_
    True
    """
    _check_estimator(estimator)
    estimator._validate_params()
    state = dict(estimator.__dict__)
    try:
        _fit(estimator, X, _resolve_persist(persist))
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(state)
        raise
    return estimator


def _fit(estimator, X, persist):
    X = _check_dask_X(estimator, X)
    dtype = X.dtype.type
    if persist:
        X = X.persist()
    blocks = _Blocks(X)
    n_samples = X.shape[0]
    n_components = estimator.n_components
    covariance_type = estimator.covariance_type
    moments = blocks.statistics(_Ones(), "full", 1, check_finite=True)
    proxy = _moment_proxy(moments, dtype)
    estimator._check_parameters(proxy, xp=get_namespace(proxy)[0])

    bayesian = isinstance(estimator, BayesianGaussianMixture)
    needs_resp = bayesian or (
        estimator.weights_init is None
        or estimator.means_init is None
        or estimator.precisions_init is None
    )
    do_init = not (estimator.warm_start and hasattr(estimator, "converged_"))
    n_init = estimator.n_init if do_init else 1
    max_lower_bound = -np.inf
    best_lower_bounds = []
    estimator.converged_ = False
    random_state = check_random_state(estimator.random_state)

    for init in range(n_init):
        estimator._print_verbose_msg_init_beg(init)
        if do_init:
            parameters = None
            if needs_resp:
                stats = blocks.statistics(
                    _initial_source(estimator, blocks, random_state),
                    covariance_type,
                    n_components,
                    unassigned=covariance_type == "tied",
                )
                parameters = _gaussian_parameters(
                    stats, regularization(estimator), covariance_type, dtype
                )
            _initialize(estimator, parameters, n_samples)

        lower_bound = -np.inf if do_init else estimator.lower_bound_
        current_lower_bounds = []
        if estimator.max_iter == 0:
            best_params = estimator._get_parameters()
            best_n_iter = 0
        else:
            converged = False
            for n_iter in range(1, estimator.max_iter + 1):
                prev_lower_bound = lower_bound
                stats = blocks.statistics(
                    estimator, covariance_type, n_components, entropy=bayesian
                )
                set_updated_parameters(
                    estimator,
                    *_gaussian_parameters(
                        stats, regularization(estimator), covariance_type, dtype
                    ),
                )
                lower_bound = _lower_bound(estimator, stats, n_samples, dtype)
                current_lower_bounds.append(lower_bound)
                change = lower_bound - prev_lower_bound
                estimator._print_verbose_msg_iter_end(n_iter, change)
                if abs(change) < estimator.tol:
                    converged = True
                    break
            estimator._print_verbose_msg_init_end(lower_bound, converged)
            if lower_bound > max_lower_bound or max_lower_bound == -np.inf:
                max_lower_bound = lower_bound
                best_params = estimator._get_parameters()
                best_n_iter = n_iter
                best_lower_bounds = current_lower_bounds
                estimator.converged_ = converged

    if not estimator.converged_ and estimator.max_iter > 0:
        warnings.warn(
            "Best performing initialization did not converge. "
            "Try different init parameters, or increase max_iter, "
            "tol, or check for degenerate data.",
            ConvergenceWarning,
            stacklevel=3,
        )
    estimator._set_parameters(best_params)
    estimator.n_iter_ = best_n_iter
    estimator.lower_bound_ = max_lower_bound
    estimator.lower_bounds_ = best_lower_bounds


def fit_predict_dask(estimator, X, y=None, *, persist: bool | None = None):
    """Fit as :func:`fit_dask`, and return the lazy labels of X.

    The labels are computed block by block by ``estimator.predict`` when
    the returned Dask array is computed (the final E-step of
    ``fit_predict``).

    Parameters
    ----------
    estimator : GaussianMixture or BayesianGaussianMixture
        The mixture to fit, in place.

    X : dask.array.Array of shape (n_samples, n_features)
        The data, chunked along rows only.

    y : Ignored
        Not used, present for API consistency by convention.

    persist : bool, default=None
        As in :func:`fit_dask`.

    Returns
    -------
    labels : dask.array.Array of shape (n_samples,)
        Component labels, lazy.
    """
    from sklearn_nsigma._dask import map_row_blocks

    fit_dask(estimator, X, y, persist=persist)
    return map_row_blocks(estimator, "predict", X, n_columns=None, dtype=np.int64)
