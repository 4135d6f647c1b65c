"""Calibrated thresholds: tail probabilities of Mahalanobis distances, in sigmas.

Pure functions, no estimator. A calibration turns the squared Mahalanobis
distance ``r2`` of a sample to a component into the probability ``p`` that a
new sample of that component lies farther out, and ``p`` into "equivalent
one-dimensional sigmas" ``z``, the ``z`` with ``2 * norm.sf(z) = p``
(``p = 0.27 %`` is 3 sigma in any dimension).

Every component's law is written in one form: the statistic
``q = scale * r2`` follows ``n_features * F(n_features, dfd)``, an F
distribution scaled to the chi-square's mean; ``dfd = inf`` is the chi-square
law ``chi2(n_features)`` itself (``scale = 1`` for ``calibration="chi2"``).
All tails are computed in log space, so that samples whose tail probability
is far below the smallest double (1e-308) still get a finite, monotone score.
"""

import numpy as np
from scipy import special
from scipy.optimize import brentq
from scipy.stats import chi2 as _chi2

# Below this, the direct survival functions are replaced by continued
# fractions in log space (they underflow, or lose relative accuracy, near the
# smallest double).
_DIRECT_FLOOR = 1e-280
_TINY = 1e-300
_HUGE = 1e300
_MAX_ITERATIONS = 5000
_LOG_2 = float(np.log(2.0))


def _lentz(coefficients, b0, n_values, tol=1e-15):
    """Evaluate continued fractions ``b0 + a1 / (b1 + a2 / (b2 + ...))``.

    Modified Lentz algorithm, vectorised; ``coefficients(i)`` returns
    ``(a_i, b_i)`` arrays for ``i = 1, 2, ...``.
    """
    f = np.where(b0 == 0, _TINY, b0) * np.ones(n_values)
    c = f.copy()
    d = np.zeros(n_values)
    for i in range(1, _MAX_ITERATIONS + 1):
        a, b = coefficients(i)
        d = b + a * d
        d = np.where(np.abs(d) < _TINY, _TINY, d)
        c = b + a / c
        c = np.where(np.abs(c) < _TINY, _TINY, c)
        d = 1.0 / d
        delta = c * d
        f = f * delta
        if np.all(np.abs(delta - 1.0) < tol):
            break
    return f


def _log_gammaincc_cf(a, y):
    """``log Q(a, y)``, the regularized upper incomplete gamma, for y > a + 1.

    Continued fraction (Numerical Recipes' ``gcf``):
    ``Q = exp(-y) y**a / Gamma(a) / (y + 1 - a - 1 (1 - a) / (y + 3 - a - ...))``.
    """
    a, y = np.broadcast_arrays(np.asarray(a, float), np.asarray(y, float))

    def coefficients(i):
        return -i * (i - a), y + 2 * i + 1 - a

    fraction = _lentz(coefficients, y + 1 - a, y.shape[0])
    return -y + a * np.log(y) - special.gammaln(a) - np.log(fraction)


def _log_betainc_cf(a, b, w, log_w, log_1mw):
    """``log I_w(a, b)``, the regularized incomplete beta, for small ``w``.

    ``I_w(a, b) = w**a (1 - w)**b / (a B(a, b)) * cf``, with Numerical
    Recipes' ``betacf`` continued fraction, which converges fast for
    ``w < (a + 1) / (a + b + 2)``.
    """
    a, b, w = np.broadcast_arrays(*(np.asarray(v, float) for v in (a, b, w)))

    def coefficients(i):
        m = (i + 1) // 2
        if i % 2:  # odd: d_{2m-1} = -(a+m-1)(a+b+m-1) w / ((a+2m-2)(a+2m-1))
            k = m - 1
            numerator = -(a + k) * (a + b + k) * w / ((a + 2 * k) * (a + 2 * k + 1))
        else:  # even: d_{2m} = m (b - m) w / ((a + 2m - 1)(a + 2m))
            numerator = m * (b - m) * w / ((a + 2 * m - 1) * (a + 2 * m))
        return numerator, np.ones_like(w)

    # I = prefactor / (1 + d1 / (1 + d2 / (1 + ...)))
    fraction = _lentz(coefficients, np.ones_like(w), w.shape[0])
    return a * log_w + b * log_1mw - np.log(a) - special.betaln(a, b) - np.log(fraction)


def log_chi2_sf(x, df):
    """Log survival function of the chi-square law, accurate far in the tail.

    Parameters
    ----------
    x : array-like of float
        Non-negative values.

    df : float
        Degrees of freedom, positive.

    Returns
    -------
    log_sf : ndarray of float64
        ``log(chi2.sf(x, df))``, finite for every finite ``x`` (about
        ``-x / 2`` where the survival function underflows).

    Examples
    --------
    >>> from sklearn_nsigma._calibration import log_chi2_sf
    >>> round(float(log_chi2_sf(4.0, 1)), 6)  # log(2 * norm.sf(2))
    -3.090037
    >>> round(float(log_chi2_sf(1e4, 3)), 1)  # chi2.sf underflows to 0
    -4995.6
    """
    x = np.asarray(x, dtype=np.float64)
    shape = x.shape
    x = x.ravel()
    with np.errstate(divide="ignore"):
        direct = special.chdtrc(df, x)
        out = np.log(direct)
    # near the centre, log1p of the lower tail keeps the tiny log values
    central = direct > 0.5
    out[central] = np.log1p(-special.chdtr(df, x[central]))
    far = direct < _DIRECT_FLOOR
    if far.any():
        out[far] = _log_gammaincc_cf(df / 2.0, x[far] / 2.0)
    return out.reshape(shape)


def log_f_sf(x, dfn, dfd):
    """Log survival function of the F law, accurate far in the tail.

    Parameters
    ----------
    x : array-like of float
        Non-negative values.

    dfn, dfd : float or array-like of float
        Degrees of freedom, positive; broadcast against ``x``.

    Returns
    -------
    log_sf : ndarray of float64
        ``log(f.sf(x, dfn, dfd))``, finite for every finite ``x``.

    Examples
    --------
    >>> from scipy.stats import f
    >>> from sklearn_nsigma._calibration import log_f_sf
    >>> bool(abs(log_f_sf(3.0, 4, 20) - f.logsf(3.0, 4, 20)) < 1e-12)
    True
    >>> bool(log_f_sf(1e200, 4, 20) < -4000)  # f.sf underflows to 0
    True
    """
    x, dfn, dfd = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (x, dfn, dfd))
    )
    shape = x.shape
    x, dfn, dfd = x.ravel(), dfn.ravel(), dfd.ravel()
    with np.errstate(divide="ignore"):
        direct = special.fdtrc(dfn, dfd, x)
        out = np.log(direct)
    central = direct > 0.5
    out[central] = np.log1p(-special.fdtr(dfn[central], dfd[central], x[central]))
    far = direct < _DIRECT_FLOOR
    if far.any():
        a, b = dfd[far] / 2.0, dfn[far] / 2.0
        scaled = dfn[far] * x[far]
        log_denominator = np.logaddexp(np.log(dfd[far]), np.log(scaled))
        log_w = np.log(dfd[far]) - log_denominator
        log_1mw = np.log(scaled) - log_denominator
        out[far] = _log_betainc_cf(a, b, np.exp(log_w), log_w, log_1mw)
    return out.reshape(shape)


def log_tail(squared, n_features, scale, dfd):
    """Log tail probability of squared Mahalanobis distances under one component.

    The statistic ``q = scale * squared`` follows ``n_features * F(n_features,
    dfd)``, or ``chi2(n_features)`` when ``dfd`` is infinite.

    Parameters
    ----------
    squared : array-like of float
        Squared Mahalanobis distances.

    n_features : int
        Dimension.

    scale : float
        Positive factor of the statistic.

    dfd : float
        Denominator degrees of freedom, positive, or ``np.inf``.

    Returns
    -------
    log_p : ndarray of float64
        Log of the probability that a new sample lies farther out.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nsigma._calibration import log_tail
    >>> round(float(np.exp(log_tail(9.0, 1, 1.0, np.inf))), 5)  # 3 sigma in 1-D
    0.0027
    """
    q = np.asarray(squared, dtype=np.float64) * float(scale)
    if np.isinf(dfd):
        return log_chi2_sf(q, n_features)
    return log_f_sf(q / n_features, n_features, dfd)


def log_tail_to_sigma(log_p):
    """Equivalent one-dimensional sigmas of (log) two-sided tail probabilities.

    ``z`` with ``2 * norm.sf(z) = p``, computed from ``log p`` (so ``p`` may
    be far below the smallest double); 0 where ``p >= 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nsigma._calibration import log_tail_to_sigma
    >>> round(float(log_tail_to_sigma(np.log(0.0026998))), 4)
    3.0
    >>> round(float(log_tail_to_sigma(-1e4)), 2)  # p = exp(-10000)
    141.38
    """
    log_p = np.minimum(np.asarray(log_p, dtype=np.float64), 0.0)
    return np.maximum(-special.ndtri_exp(log_p - _LOG_2), 0.0)


def sigma_to_log_tail(n_sigma):
    """``log(2 * norm.sf(n_sigma))``, the inverse of :func:`log_tail_to_sigma`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nsigma._calibration import sigma_to_log_tail
    >>> round(float(np.exp(sigma_to_log_tail(3.0))), 6)
    0.0027
    """
    return _LOG_2 + special.log_ndtr(-np.asarray(n_sigma, dtype=np.float64))


def coverage_to_equivalent_sigma(coverage: float) -> float:
    """The sigmas whose two-sided 1-D tail is ``1 - coverage``.

    Examples
    --------
    >>> from sklearn_nsigma._calibration import coverage_to_equivalent_sigma
    >>> round(coverage_to_equivalent_sigma(0.9973), 3)
    3.0
    """
    return float(log_tail_to_sigma(np.log1p(-coverage)))


def squared_radius(n_sigma, n_features, scale, dfd):
    """The squared Mahalanobis radius whose tail probability is ``n_sigma``'s.

    The inverse of ``log_tail_to_sigma(log_tail(r2, ...))`` in ``r2``,
    solved in log space (so any finite ``n_sigma`` works); ``inf`` where
    the radius is beyond 1e150 (squared, 1e300), as a heavy-tailed law's
    can be far out.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nsigma._calibration import squared_radius
    >>> round(squared_radius(3.0, 1, 1.0, np.inf), 6)
    9.0
    >>> round(squared_radius(3.0, 10, 1.0, np.inf), 3)  # chi2.isf(0.0027, 10)
    26.901
    >>> squared_radius(30.0, 13, 1.0, 1.0)  # 1e394 under F(13, 1)
    inf
    """
    target = float(sigma_to_log_tail(n_sigma))
    if np.isinf(dfd) and target > np.log(_DIRECT_FLOOR):
        return float(_chi2.isf(np.exp(target), n_features)) / scale

    def excess(log_r2):
        return float(log_tail(np.exp(log_r2), n_features, scale, dfd)) - target

    # A heavy-tailed law's radius may exceed every double: everything is inside.
    log_r2_max = float(np.log(_HUGE))
    low, high = -50.0, 10.0
    while excess(high) > 0:
        if high >= log_r2_max:
            return np.inf
        low, high = high, min(high + 10.0, log_r2_max)
    return float(np.exp(brentq(excess, low, high, xtol=1e-14, rtol=1e-15)))


def approximate_squared_radii(n_sigmas, n_features, scale, dfd):
    """Squared radii at ``n_sigmas`` under one law, from inverse special functions.

    Vectorised and cheap, accurate to about 1e-10 relative, but not in log
    space: radii beyond about 37 sigmas (tail probabilities below the
    smallest double), or where the inverse fails (some F laws beyond about
    26 sigmas), are ``inf``. :func:`squared_radius` solves one radius
    exactly.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nsigma._calibration import approximate_squared_radii
    >>> approximate_squared_radii([0.0, 3.0, 40.0], 1, 1.0, np.inf).round(6)
    array([ 0.,  9., inf])
    """
    log_p = sigma_to_log_tail(np.asarray(n_sigmas, dtype=np.float64))
    with np.errstate(under="ignore"):
        p = np.exp(log_p)
    with np.errstate(divide="ignore", over="ignore"):
        if np.isinf(dfd):
            q = special.chdtri(n_features, p)
        else:
            # fdtrc(d, dfd, x) = I_w(dfd / 2, d / 2) with w = dfd / (dfd + d x),
            # and the statistic is q = d x = dfd (1 / w - 1)
            w = special.betaincinv(dfd / 2.0, n_features / 2.0, p)
            q = dfd * (1.0 / w - 1.0)
    # beyond the smallest double, or so far out that the inverse saturates
    return np.where((p > 0) & (q < _HUGE) & np.isfinite(q), q, np.inf) / scale


def _floored(nu, floor=1.0):
    return np.maximum(np.asarray(nu, dtype=np.float64), floor)


def hotelling_form(n_k, n_features, covariance_type, n_samples=None):
    """Predictive law of a maximum-likelihood component fitted on ``n_k`` samples.

    Returns ``(scale, dfd)`` per component, such that ``scale * r2`` follows
    ``n_features * F(n_features, dfd)`` for a new sample of the component,
    where ``r2`` is its squared distance under the fitted (maximum
    likelihood) mean and covariance. See ``NSigmaOutlierDetector``'s Notes
    for the derivation. Degrees of freedom are floored at 1 (components
    with fewer effective samples than dimensions get the heaviest tail).

    Parameters
    ----------
    n_k : ndarray of shape (n_components,)
        Effective number of samples of each component.

    n_features : int
        Dimension.

    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        How the covariances were estimated.

    n_samples : float, default=None
        Total number of samples; used by 'tied' (the pooled covariance).

    Returns
    -------
    scale, dfd : ndarray of shape (n_components,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nsigma._calibration import hotelling_form
    >>> scale, dfd = hotelling_form(np.array([101.0]), 2, "full")
    >>> round(float(scale[0]), 4), float(dfd[0])
    (0.9706, 99.0)
    """
    n_k = np.asarray(n_k, dtype=np.float64)
    d = float(n_features)
    if covariance_type == "full":
        dfd = _floored(n_k - d)
        return dfd / (n_k + 1.0), dfd
    if covariance_type == "tied":
        n = float(n_k.sum() if n_samples is None else n_samples)
        nu = n - n_k.shape[0]  # Wishart dof of the pooled covariance
        dfd = _floored(nu - d + 1.0) * np.ones_like(n_k)
        return (nu / n) * n_k / (n_k + 1.0) * dfd / max(nu, 1.0), dfd
    nu = _floored(n_k - 1.0)
    if covariance_type == "spherical":
        return nu / (n_k + 1.0), d * nu
    # diag: the sum of n_features independent squared t(nu) variables,
    # approximated by c * n_features * F(n_features, m) with the same mean
    # and variance (exact for one feature); for nu <= 4 the variance is
    # infinite and m = nu, c = 1 (continuous at nu = 4).
    m = np.where(nu > 4.0, ((d + 2.0) * nu - 4.0 * (d - 1.0)) / 3.0, nu)
    c = np.where(nu > 4.0, nu * (m - 2.0) / (np.maximum(nu - 2.0, 1.0) * m), 1.0)
    return nu / ((n_k + 1.0) * c), m


def reference_form(mixture, n_features):
    """Predictive law of a Bayesian component under the reference prior.

    A ``BayesianGaussianMixture`` component's variational posterior is
    Normal-Wishart; integrating its mean and precision out gives a
    multivariate Student t predictive with ``nu_k + 1 - d`` degrees of
    freedom and scale matrix ``(1 + beta_k) nu_k / (beta_k (nu_k + 1 - d))
    covariances_[k]`` (Bishop, 2006, eq. 10.81). That is the predictive
    under the mixture's prior. The posterior has mean precision
    ``beta_k = beta_0 + n_k``, ``n_k`` the samples it explains, degrees of
    freedom ``nu_k = nu_0 + m_k`` (``m_k = n_k``, or ``n_samples /
    n_components`` for 'tied' in scikit-learn's updates) and
    ``covariances_[k] = (Psi_0 + m_k S_k + ...) / nu_k``, with ``S_k`` the
    maximum-likelihood covariance of its samples and ``Psi_0`` the prior's
    scatter. scikit-learn's default prior is a regulariser built from the
    data (``Psi_0`` the covariance of all the samples, ``nu_0 = d``), not a
    belief about each cluster: its ``d`` pseudo-observations carry the
    spread of the whole data set, and the Student t predictive, which
    counts them as ``d`` more observations of
    the cluster, flags new samples of high-dimensional clusters several
    times more often than its nominal rate (5.6 % instead of 0.27 % on
    clean 50-D clusters). Under the reference (non-informative) prior, the
    posterior predictive is Hotelling's prediction law with the ``n_k``
    data samples (Geisser, 1993), exact in the frequentist sense. Here it
    is applied to the distances ``r2`` under ``covariances_``, which is
    ``m_k / nu_k`` times ``S_k`` plus the prior's (small, positive
    semi-definite) scatter, so ``r2(S_k) >= m_k / nu_k * r2``: the law is
    that of :func:`hotelling_form` with ``n_k``, its scale multiplied by
    ``m_k / nu_k`` (the prior's scatter left in only widens the region).

    Parameters
    ----------
    mixture : fitted BayesianGaussianMixture
        Read: ``mean_precision_``, ``mean_precision_prior_``,
        ``degrees_of_freedom_``, ``degrees_of_freedom_prior_`` and
        ``covariance_type``.

    n_features : int
        Dimension.

    Returns
    -------
    scale, dfd : ndarray of shape (n_components,)
        ``scale * r2 ~ d F(d, dfd)`` for a new sample of each component.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import numpy as np
    >>> from sklearn_nsigma._calibration import reference_form
    >>> posterior = SimpleNamespace(
    ...     mean_precision_=np.array([102.0]), mean_precision_prior_=1.0,
    ...     degrees_of_freedom_=np.array([103.0]), degrees_of_freedom_prior_=2.0,
    ...     covariance_type="full",
    ... )
    >>> scale, dfd = reference_form(posterior, 2)
    >>> round(float(scale[0]), 4), float(dfd[0])  # hotelling_form(101) * 101 / 103
    (0.9517, 99.0)
    """
    beta = np.asarray(mixture.mean_precision_, dtype=np.float64)
    n_k = np.maximum(beta - float(mixture.mean_precision_prior_), 1e-3)
    nu = np.asarray(mixture.degrees_of_freedom_, dtype=np.float64)
    share = np.maximum(nu - float(mixture.degrees_of_freedom_prior_), 1e-3) / nu
    covariance_type = mixture.covariance_type
    scale, dfd = hotelling_form(n_k, n_features, covariance_type, n_k.sum())
    return scale * share, dfd
