"""Robust re-estimation of a mixture's ellipsoids from its own core samples.

The reweighting step of the minimum covariance determinant (``MinCovDet``),
applied to each component of a fitted mixture and iterated to a fixed point,
after merging the components that one Gaussian cluster explains better:
every training sample is given to its most probable component, a component
keeps the samples inside the ``quantile`` of its chi-square law, and its mean
and covariance are re-estimated from them, the covariance scaled up for the
truncation. Samples beyond the quantile (the outliers among them) no longer
inflate the ellipsoid they are measured against. A component whose samples
turn out heavier-tailed than Gaussian (each step would cut more of its own
tail) is estimated from all of its samples instead, and a 'full' component
kept with fewer than :data:`FULL_COVARIANCE_SAMPLES_PER_FEATURE` samples
per feature gets its variances only (a diagonal covariance).
"""

from typing import NamedTuple

import numpy as np
from scipy.special import digamma
from scipy.stats import binom, chi2

from sklearn_nsigma._distance import MahalanobisKernel
from sklearn_nsigma._geometry import precisions_cholesky_from_covariances

MAX_ITERATIONS = 30
# The largest share of the samples that components left out as background
# may hold together (:func:`robust_parameters`).
MAX_BACKGROUND_SHARE = 0.5
# The test that a component's samples are heavier-tailed than Gaussian
# (see _heavier_tailed): its level, and the shell just beyond the cutoff,
# out to the 1 - (1 - quantile) / SHELL_RATIO quantile.
TAIL_TEST_LEVEL = 1e-3
SHELL_RATIO = 3.0
# A 'full' component is re-estimated with its correlations from at least
# this many samples per feature, and with its variances only (a diagonal
# covariance) from fewer (see _reweight).
FULL_COVARIANCE_SAMPLES_PER_FEATURE = 10
# The fewest samples a component is re-estimated from (with fewer it keeps
# the mixture's parameters): its variances then have 3 degrees of freedom.
MIN_REESTIMATION_SAMPLES = 4


class RobustEstimates(NamedTuple):
    """How :func:`robust_parameters` re-estimated each component of a mixture."""

    n_used: np.ndarray
    """The number of samples it was computed from (NaN: kept as it was)."""

    diagonal: np.ndarray
    """Whether it was given a diagonal covariance (too few samples for more)."""

    variance_inflation: np.ndarray
    """For a diagonal one, ``tr(R**2) / d`` of its correlations ``R`` (else 1).

    How much its correlations inflate the variance of its squared
    distances under the diagonal covariance: ``sum_i lambda_i chi2_1``
    (``lambda_i`` the eigenvalues of ``R``) has the mean of ``chi2_d`` and
    this many times its variance. Each squared correlation is first
    corrected for the ``1 / (n - 1)`` that sampling noise adds to it.
    """


def covariances_from_factors(factors: np.ndarray, covariance_type: str) -> np.ndarray:
    """Covariances (in the layout of ``covariance_type``) from precision factors.

    Examples
    --------
    >>> import numpy as np
    >>> covariances_from_factors(np.array([0.5, 2.0]), "spherical")
    array([4.  , 0.25])
    """
    if covariance_type in ("diag", "spherical"):
        return 1.0 / np.square(factors)
    precisions = np.matmul(factors, np.swapaxes(factors, -1, -2))
    return np.linalg.inv(precisions)


def _log_determinants(factors: np.ndarray, covariance_type: str, n_features: int):
    """``log det`` of each component's precision Cholesky factor."""
    if covariance_type == "full":
        return np.log(np.abs(np.diagonal(factors, axis1=1, axis2=2))).sum(axis=1)
    if covariance_type == "tied":
        return np.log(np.abs(np.diagonal(factors))).sum()
    if covariance_type == "diag":
        return np.log(factors).sum(axis=1)
    return n_features * np.log(factors)


def _projected_gain(first, second, n_samples, reg_covar):
    """BIC gain of one Gaussian over two, on the axis that separates them.

    ``first`` and ``second`` are ``(n, sum, sum of outer products)`` of the
    samples of two components. Both are projected on Fisher's discriminant
    direction ``S^{-1} (m_1 - m_2)``, ``S = S_1 + S_2``, or only its
    diagonal below :data:`FULL_COVARIANCE_SAMPLES_PER_FEATURE` samples per
    feature (both invariant to the scale of each feature); the classification
    log-likelihood of one 1-D Gaussian fitted to the union is compared with
    that of the two pieces (each its own Gaussian and weight), with BIC's
    penalty for the three parameters that a second component adds. Any
    projection of one Gaussian cluster is Gaussian, however it was cut in
    pieces, so its pieces are merged; two clusters apart along that axis are
    not.
    """
    n = np.array([first[0], second[0]], dtype=np.float64)
    means = np.array([first[1] / n[0], second[1] / n[1]])
    scatters = [
        stats[2] / stats[0] - np.outer(mean, mean)
        for stats, mean in zip((first, second), means, strict=True)
    ]
    # Fisher's direction: with the pooled covariance's diagonal only below
    # FULL_COVARIANCE_SAMPLES_PER_FEATURE samples per feature, where the full
    # inverse would overfit and separate any two small groups perfectly.
    n_features = means.shape[1]
    pooled = scatters[0] + scatters[1] + np.diag(np.broadcast_to(reg_covar, n_features))
    if n.sum() < FULL_COVARIANCE_SAMPLES_PER_FEATURE * n_features:
        direction = (means[0] - means[1]) / np.diag(pooled)
    else:
        direction = np.linalg.solve(pooled, means[0] - means[1])
    centres = means @ direction
    variances = np.array([direction @ scatter @ direction for scatter in scatters])
    variances = np.maximum(variances, 1e-12 * max(variances.max(), 1e-300))
    total = n.sum()
    centre = n @ centres / total
    variance = (n @ (variances + np.square(centres - centre))) / total
    apart = n @ np.log(n / total) - 0.5 * n @ np.log(variances)
    together = -0.5 * total * np.log(variance)
    return together - apart + 1.5 * np.log(n_samples)


def merge_components(X, owner, candidates, reg_covar=1e-6):
    """Greedily merge components that one Gaussian cluster explains better.

    Each sample belongs to one component (``owner``). For each pair of
    candidate components, the union of their samples is projected on the
    axis that separates them (Fisher's: the inverse of their pooled
    covariance times the difference of their means; the pooled covariance's
    diagonal only where they hold fewer than
    :data:`FULL_COVARIANCE_SAMPLES_PER_FEATURE` samples per feature), and
    one 1-D Gaussian is compared with the two pieces by the Bayesian
    information criterion of the classification likelihood (as in the CEM
    algorithm). The pair with the largest gain is merged first, until no
    merge has a positive gain. This undoes the split of one Gaussian
    cluster over several components that an over-provisioned mixture leaves
    (the k-means initialisation of a ``BayesianGaussianMixture`` with 10
    components cuts 3 clusters into 10 pieces, and variational inference
    cannot merge them), without merging clusters that are apart: the test
    is one-dimensional, so it does not charge a merge with the
    ``d (d + 3) / 2`` parameters of a full covariance, which in high
    dimension would merge distinct clusters.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training samples.

    owner : ndarray of int of shape (n_samples,)
        The component of each sample.

    candidates : ndarray of int
        The components that may be merged (the others are left alone).

    reg_covar : float or ndarray of shape (n_features,), default=1e-6
        Added to the diagonal of the pooled covariance.

    Returns
    -------
    into : dict
        ``{component: the component it was merged into}``, for the merged
        ones (chains resolved: every value is a kept component).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(0, 1, (300, 2)), rng.normal(9, 1, (300, 2))])
    >>> owner = np.repeat([0, 1, 2], [150, 150, 300])
    >>> owner[:300] = np.where(X[:300, 0] > 0, 0, 1)  # the first cluster cut in two
    >>> merge_components(X, owner, np.array([0, 1, 2]))
    {0: 1}
    """
    n_samples = X.shape[0]
    # the test is translation-invariant; centred, the sums below keep their
    # precision for data far from the origin
    X = X - X.mean(axis=0)
    stats = {}
    for k in candidates:
        rows = X[owner == k]
        if rows.shape[0] >= 2:
            stats[int(k)] = (rows.shape[0], rows.sum(axis=0), rows.T @ rows)
    into = {}
    while len(stats) > 1:
        best, best_gain = None, 0.0
        keys = sorted(stats)
        for a, i in enumerate(keys):
            for j in keys[a + 1 :]:
                gain = _projected_gain(stats[i], stats[j], n_samples, reg_covar)
                if gain > best_gain:
                    best, best_gain = (i, j), gain
        if best is None:
            break
        i, j = best if stats[best[0]][0] >= stats[best[1]][0] else best[::-1]
        stats[i] = tuple(x + y for x, y in zip(stats[i], stats[j], strict=True))
        del stats[j]
        into[j] = i
        for k, target in into.items():
            if target == j:
                into[k] = i
    return into


def _log_det_unbiased(centred, covariance_type, reg_covar):
    """Unbiased estimate of ``log det`` of the covariance the samples came from.

    For ``n`` Gaussian samples, ``E[log det S] = log det Sigma + sum_i
    digamma((n - i) / 2) + d log(2 / n)`` (``S`` the maximum likelihood
    covariance, ``i = 1..d``); the diagonal and spherical forms are the
    same with ``n - 1`` and ``d (n - 1)`` degrees of freedom per variance.
    None when the covariance cannot be estimated.
    """
    n, d = centred.shape
    if covariance_type == "full":
        if n <= d + 1:
            return None
        covariance = centred.T @ centred / n + np.diag(np.broadcast_to(reg_covar, d))
        sign, log_det = np.linalg.slogdet(covariance)
        if sign <= 0:
            return None
        return (
            log_det - digamma((n - np.arange(1, d + 1)) / 2.0).sum() - d * np.log(2 / n)
        )
    if n <= 2:
        return None
    variances = np.mean(np.square(centred), axis=0) + reg_covar
    if covariance_type == "diag":
        return np.log(variances).sum() - d * (digamma((n - 1) / 2.0) + np.log(2 / n))
    dof = d * (n - 1)
    return d * (np.log(variances.mean()) - digamma(dof / 2.0) - np.log(2 / (d * n)))


def background_components(X, owner, candidates, covariance_type, reg_covar=1e-6):
    """The components no denser than a uniform background over the data.

    Following the noise component of model-based clustering (Banfield and
    Raftery, 1993), scattered outliers are a uniform background over the
    data's bounding box, of density ``w0 / V``, ``w0`` the share of the
    samples it holds. A component is background when its share ``w`` of
    the samples (those of ``owner``), spread as the Gaussian they came
    from, is no denser than that: when ``w exp(-H) <= w0 / V``, ``H = (d
    log(2 pi e) + log det Sigma) / 2`` its entropy with ``log det Sigma``
    estimated without bias. ``w0`` is the share of the background
    components themselves and of the components that are not candidates
    (too light to make inliers): starting from all the samples (``w0 =
    1``), the components that pass are kept until the set no longer
    shrinks. One background component alone passes when ``H >= log V``: a
    Gaussian fitted to uniform samples has an entropy about ``0.18 d`` above
    ``log V``; a cluster, far below. Noise cut in pieces (k-means does so
    in few dimensions) passes too: a piece holding a share ``w`` of the
    noise's ``w0`` is ``log(w0 / w)`` denser than the box, and no denser
    than the noise. A mixture fitted to contaminated data gives such
    components to the outliers, and their ellipsoids would otherwise make
    the outliers around them inliers.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The samples the mixture was fitted on; their bounding box is the
        background's support.

    owner : ndarray of int of shape (n_samples,)
        Index of the component each sample is given to.

    candidates : ndarray of int
        The components to test.

    covariance_type : {'full', 'diag', 'spherical'}
        The covariance each Gaussian is fitted with.

    reg_covar : float or ndarray of shape (n_features,), default=1e-6
        Added to the diagonal of the covariances.

    Returns
    -------
    background : ndarray of int
        The candidates that are background.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(0, 1, (300, 5)), rng.uniform(-9, 9, (60, 5))])
    >>> owner = np.repeat([0, 1], [300, 60])
    >>> background_components(X, owner, np.array([0, 1]), "full")
    array([1])
    """
    # A feature that is constant over the data (a pixel never inked) has a
    # box of zero width and any component no spread along it: neither
    # density is defined there, and the feature tells background from
    # cluster no better than it tells anything else. The test is made on
    # the other features.
    varying = np.ptp(X, axis=0) > 0
    X = X[:, varying]
    reg_covar = np.broadcast_to(reg_covar, varying.shape)[varying]
    n_features = X.shape[1]
    if n_features == 0:
        return np.zeros(0, dtype=int)
    log_volume = np.log(np.ptp(X, axis=0)).sum()
    excess = {}  # component: (H - log w - log V, w)
    for k in candidates:
        rows = X[owner == k]
        if rows.shape[0] < 2:  # a component that owns no sample is no background
            continue
        log_det = _log_det_unbiased(
            rows - rows.mean(axis=0), covariance_type, reg_covar
        )
        if log_det is None:
            continue
        entropy = 0.5 * (n_features * (np.log(2 * np.pi) + 1) + log_det)
        share = rows.shape[0] / X.shape[0]
        excess[int(k)] = (entropy - np.log(share) - log_volume, share)
    # Against the background's own density w0 / V, w0 the share of the
    # components taken for it and of the non-candidates (too light: noise or
    # negligible clusters), from w0 = 1 down to a fixed point (the set only
    # shrinks). One component alone is background when H >= log V.
    others = np.isin(owner, candidates, invert=True).mean()
    background = [k for k, (gap, _) in excess.items() if gap >= 0]
    while background:
        noise = others + sum(excess[k][1] for k in background)
        kept = [k for k in background if excess[k][0] >= -np.log(noise)]
        if kept == background:
            break
        background = kept
    return np.asarray(sorted(background), dtype=int)


def robust_parameters(
    X: np.ndarray,
    means: np.ndarray,
    factors: np.ndarray,
    covariance_type: str,
    weights: np.ndarray,
    min_weight: float,
    quantile: float,
    reg_covar: float | np.ndarray = 1e-6,
):
    """Re-estimate the eligible components from their core samples.

    First (not for 'tied') the components that one Gaussian cluster explains
    better are merged (:func:`merge_components`) and the background ones
    left out (:func:`background_components`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training samples (float64).

    means, factors : ndarray
        Means and precision Cholesky factors (``covariance_type`` layout).

    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        Layout of ``factors``, kept by the re-estimated covariances.

    weights : ndarray of shape (n_components,)
        Mixture weights, used to give each sample its most probable
        component.

    min_weight : float
        The weight a component needs, after the merges, to be eligible and
        re-estimated (the heaviest always is); the others are kept as they
        are, and still take their samples.

    quantile : float
        Chi-square quantile, in (0, 1), of the samples a component keeps.

    reg_covar : float or ndarray of shape (n_features,), default=1e-6
        Added to the diagonal of the re-estimated covariances.

    Returns
    -------
    means, factors : ndarray
        The re-estimated parameters, in the same layouts.

    estimates : RobustEstimates
        How each component was re-estimated: from how many samples (``nan``
        for the components kept as they were), and whether with a diagonal
        covariance ('full' components kept with fewer than
        :data:`FULL_COVARIANCE_SAMPLES_PER_FEATURE` samples per feature).

    eligible : ndarray of bool of shape (n_components,)
        The components re-estimated, which alone make samples inliers: of
        weight at least ``min_weight`` after the merges, not background,
        and estimated from at least ``min_weight`` of the samples (the
        heaviest always is).

    n_iter : int
        Number of reweighting steps until the kept samples stopped changing.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(size=(500, 2)), rng.uniform(-20, 20, (50, 2))])
    >>> means, factors = X.mean(axis=0, keepdims=True), np.array([1 / X.std()])
    >>> means, factors, estimates, _, _ = robust_parameters(
    ...     X, means, factors, "spherical", np.ones(1), 0.05, 0.975
    ... )
    >>> bool(abs(1 / factors[0] - 1.0) < 0.1)  # the standard deviation, not 5
    True
    """
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    means = np.array(means, dtype=np.float64)
    factors = np.array(factors, dtype=np.float64)
    covariances = covariances_from_factors(factors, covariance_type)
    cutoff = chi2.ppf(quantile, n_features)
    weights = np.array(weights, dtype=np.float64)
    merge = covariance_type != "tied"
    if merge:
        factors, owner = _merge(
            X, means, factors, covariances, covariance_type, weights, reg_covar, cutoff
        )
    refit = weights >= min_weight
    if merge:
        background = background_components(
            X, owner, np.flatnonzero(refit), covariance_type, reg_covar
        )
        # Noise is a minority: background that would hold most of the
        # samples is the data itself (uniform, or on a grid of values).
        if np.isin(owner, background).mean() <= MAX_BACKGROUND_SHARE:
            refit[background] = False
    if not refit.any():
        refit[np.argmax(weights)] = True
    estimates = RobustEstimates(
        np.full(n_components, np.nan),
        np.zeros(n_components, dtype=bool),
        np.ones(n_components),
    )
    # the components estimated from all their samples, untrimmed
    untrimmed = np.zeros(n_components, dtype=bool)
    previous = None
    n_iter = 0
    for n_iter in range(1, MAX_ITERATIONS + 1):  # noqa: B007
        squared = MahalanobisKernel(means, factors, covariance_type, "float64").squared(
            X
        )
        owner = _owners(squared, weights, factors, covariance_type, n_features)
        owned = squared[np.arange(n_samples), owner]
        inflation = estimates.variance_inflation
        if previous is not None:
            candidates = refit & ~untrimmed
            untrimmed |= _heavier_tailed(
                owned, owner, candidates, quantile, n_features, inflation
            )
        cutoffs = _quantiles(quantile, n_features, inflation)
        keep = np.where((owned <= cutoffs[owner]) | untrimmed[owner], owner, -1)
        if previous is not None and np.array_equal(keep, previous):
            break
        previous = keep
        covariances = _reweight(
            X,
            keep,
            refit,
            means,
            covariances,
            covariance_type,
            reg_covar,
            np.where(untrimmed, 1.0, _consistency(quantile, n_features, inflation)),
            estimates,
        )
        factors = precisions_cholesky_from_covariances(covariances, covariance_type)
    # Eligible components keep at least min_weight of the samples once
    # re-estimated: pieces of scattered noise that pass min_weight only
    # together, merged, lose most of their samples to the trimming, and
    # their vague predictive law would vouch for the noise.
    n_used = np.nan_to_num(estimates.n_used, nan=np.inf)
    light = refit & (n_used < min_weight * n_samples)
    if (refit & ~light).any():
        refit &= ~light
    return means, factors, estimates, refit, n_iter


def _merge(X, means, factors, covariances, covariance_type, weights, reg_covar, cutoff):
    """Merge the components one Gaussian cluster explains better, in place.

    The test sees each component's core samples only, those within
    ``cutoff`` (a squared radius) of it: the outliers a component has taken
    would make it look broad, and a tight cluster next to it part of it.
    ``means``, ``covariances`` and ``weights`` are updated in place. Returns
    the precision Cholesky factors after the merges, and each sample's most
    probable component before them, the absorbed ones replaced by the
    component that took them.
    """
    n_components, n_features = means.shape
    kernel = MahalanobisKernel(means, factors, covariance_type, "float64")
    squared = kernel.squared(X)
    owner = _owners(squared, weights, factors, covariance_type, n_features)
    core = np.where(squared[np.arange(X.shape[0]), owner] <= cutoff, owner, -1)
    candidates = np.flatnonzero(np.bincount(owner, minlength=n_components) >= 2)
    into = merge_components(X, core, candidates, reg_covar)
    if not into:
        return factors, owner
    _merge_into(X, owner, into, means, covariances, weights, reg_covar)
    for k, target in into.items():
        owner[owner == k] = target
    return precisions_cholesky_from_covariances(covariances, covariance_type), owner


def _set_covariance(covariances, k, scatter, reg_covar):
    """Component ``k``'s covariance from its scatter matrix, in place.

    ``covariances`` is in the 'full' (3-D), 'diag' (2-D) or 'spherical'
    (1-D) layout.
    """
    if covariances.ndim == 3:
        covariances[k] = scatter + np.diag(np.broadcast_to(reg_covar, len(scatter)))
    elif covariances.ndim == 2:
        covariances[k] = np.diag(scatter) + reg_covar
    else:
        covariances[k] = np.mean(np.diag(scatter) + reg_covar)


def _reweight(
    X,
    keep,
    refit,
    means,
    covariances,
    covariance_type,
    reg_covar,
    consistency,
    estimates,
):
    """One reweighting step: each refitted component from the samples it keeps.

    ``consistency`` holds each component's factor for the truncation (1 for
    an untrimmed one). A component keeping fewer than
    :data:`MIN_REESTIMATION_SAMPLES` samples (or, for 'tied', no more than
    ``n_features``) is left as it is. A 'full' component keeping fewer than
    :data:`FULL_COVARIANCE_SAMPLES_PER_FEATURE` samples per feature gets
    its variances only, from then on: from so few samples, the sample
    covariance's smallest eigenvalues are far below the truth's (by ``(1 -
    sqrt(d / n))**2`` for ``n`` samples in ``d`` dimensions, Marchenko and
    Pastur, 1967), and the distances along those directions, noise, swamp
    the others. ``means`` and the arrays of ``estimates`` (a
    :class:`RobustEstimates`) are updated in place; returns the covariances
    (a new array for 'tied', pooled over the components).
    """
    n_features = X.shape[1]
    pooled = np.zeros((n_features, n_features))
    pooled_count = 0
    fewest = n_features + 1 if covariance_type == "tied" else MIN_REESTIMATION_SAMPLES
    for k in np.flatnonzero(refit):
        rows = X[keep == k]
        n_rows = rows.shape[0]
        if n_rows < fewest:
            continue
        means[k] = rows.mean(axis=0)
        centred = rows - means[k]
        scatter = centred.T @ centred / n_rows * consistency[k]
        estimates.n_used[k] = n_rows
        # once diagonal, diagonal until the fixed point: its wider law keeps
        # samples the full one trimmed, and the choice would flip each step
        diagonal = estimates.diagonal[k] or (
            covariance_type == "full"
            and n_rows < FULL_COVARIANCE_SAMPLES_PER_FEATURE * n_features
        )
        estimates.diagonal[k] = diagonal
        estimates.variance_inflation[k] = (
            _variance_inflation(scatter, n_rows, reg_covar) if diagonal else 1.0
        )
        if diagonal:
            scatter = np.diag(np.diag(scatter))
        if covariance_type == "tied":
            pooled += scatter * n_rows
            pooled_count += n_rows
        else:
            _set_covariance(covariances, k, scatter, reg_covar)
    if covariance_type == "tied" and pooled_count > 0:
        return pooled / pooled_count + np.diag(np.broadcast_to(reg_covar, n_features))
    return covariances


def _variance_inflation(scatter, n_rows, reg_covar) -> float:
    """``tr(R**2) / d`` of the correlations of ``n_rows`` samples' scatter.

    Each off-diagonal squared correlation less ``1 / (n_rows - 1)``, its
    expectation for uncorrelated Gaussian features, so that independent
    features give about 1 from any number of samples (see
    :class:`RobustEstimates`).

    Examples
    --------
    >>> import numpy as np
    >>> _variance_inflation(np.array([[1.0, 0.0], [0.0, 4.0]]), 10, 0.0)
    1.0
    >>> round(_variance_inflation(np.ones((2, 2)), 1001, 0.0), 3)  # one axis: 2
    1.999
    """
    n_features = scatter.shape[0]
    variances = np.diag(scatter) + reg_covar
    spread = np.sqrt(np.where(variances > 0, variances, 1.0))
    squared = np.square(scatter / np.outer(spread, spread))
    off_diagonal = squared.sum() - np.trace(squared)
    noise = n_features * (n_features - 1) / max(n_rows - 1.0, 1.0)
    return 1.0 + max(float(off_diagonal) - noise, 0.0) / n_features


def _quantiles(quantile, n_features, inflation):
    """Each component's ``quantile`` of its squared distances' law.

    ``chi2(d)`` for a component with its own covariance; Satterthwaite's
    ``g chi2(d / g)`` for one given a diagonal covariance, ``g`` its
    :attr:`RobustEstimates.variance_inflation` (1 for the others).

    Examples
    --------
    >>> import numpy as np
    >>> _quantiles(0.999, 2, np.array([1.0, 2.0])).round(2)  # chi2(2), 2 chi2(1)
    array([13.82, 21.66])
    """
    return inflation * chi2.ppf(quantile, n_features / inflation)


def _consistency(quantile, n_features, inflation):
    """The factor that makes up for trimming each component at its quantile.

    ``E[x x^T | inside] = S P(chi2(d + 2) <= cutoff) / quantile`` for a
    Gaussian trimmed at its ``chi2(d)`` quantile; in Satterthwaite's law
    for a component given a diagonal covariance (see :func:`_quantiles`).
    """
    dof = n_features / inflation
    return quantile / chi2.cdf(chi2.ppf(quantile, dof), dof + 2)


def _heavier_tailed(squared, owner, candidates, quantile, n_features, inflation=1.0):
    """The candidate components whose samples are heavier-tailed than Gaussian.

    The reweighting assumes a Gaussian component with a few gross outliers,
    which lie far beyond its cutoff (the ``quantile`` of the chi-square
    law); a heavy tail starts right at it. A Gaussian puts ``(1 - quantile)
    (1 - 1 / SHELL_RATIO)`` of its samples in the thin shell between its
    ``quantile`` and its ``1 - (1 - quantile) / SHELL_RATIO`` quantile
    (0.067 % for 0.999). When a component owns more samples there than the
    binomial upper ``TAIL_TEST_LEVEL`` quantile of that count, its tail is
    heavier than Gaussian: the consistency factor, which holds for Gaussian
    data only, no longer makes up for the truncation, and every step would
    cut more of the component's own tail (on the breast cancer table, from
    2 % of the rows flagged after the merges to 22 % at the fixed point).

    ``squared`` is each sample's squared distance to its component
    ``owner``; ``inflation`` each component's variance inflation (see
    :func:`_quantiles`).

    Examples
    --------
    >>> import numpy as np
    >>> owner = np.repeat([0, 1], 1000)
    >>> squared = np.ones(2000)
    >>> squared[[0, 1000]] = 500.0  # one gross outlier each: not in the shell
    >>> squared[1001:1021] = 14.5  # 20 samples just beyond 2-D's cutoff (13.8)
    >>> _heavier_tailed(squared, owner, np.array([True, True]), 0.999, 2)
    array([False,  True])
    """
    n_components = candidates.shape[0]
    inflation = np.broadcast_to(inflation, n_components)
    cutoff = _quantiles(quantile, n_features, inflation)[owner]
    outer = _quantiles(1.0 - (1.0 - quantile) / SHELL_RATIO, n_features, inflation)
    in_shell = (squared > cutoff) & (squared <= outer[owner])
    owned = np.bincount(owner, minlength=n_components)
    shell = np.bincount(owner[in_shell], minlength=n_components)
    mass = (1.0 - quantile) * (1.0 - 1.0 / SHELL_RATIO)
    return candidates & (shell > binom.isf(TAIL_TEST_LEVEL, owned, mass))


def _owners(squared, weights, factors, covariance_type, n_features):
    """The most probable component of each sample (hard E-step)."""
    log_density = (
        np.log(np.maximum(weights, 1e-300))
        + _log_determinants(factors, covariance_type, n_features)
        - 0.5 * squared
    )
    return np.argmax(log_density, axis=1)


def _merge_into(X, owner, into, means, covariances, weights, reg_covar):
    """Give each merged group one component: the union's mean and covariance.

    In place (``covariances`` in the 'full', 'diag' or 'spherical' layout):
    the absorbed components lose their weight (so they are neither
    eligible nor given samples any more); the kept one takes the moments of
    the union.
    """
    for target in set(into.values()):
        group = [target, *(k for k, t in into.items() if t == target)]
        rows = X[np.isin(owner, group)]
        mean = rows.mean(axis=0)
        centred = rows - mean
        scatter = centred.T @ centred / rows.shape[0]
        means[target] = mean
        _set_covariance(covariances, target, scatter, reg_covar)
        for k in group[1:]:
            weights[target] += weights[k]
            weights[k] = 0.0


DEFAULT_QUANTILE = 0.999


def resolve_robust(robust, calibration: str, dask_input: bool):
    """The quantile ``robust`` means, or None for the mixture's own ellipsoids.

    'auto' is :data:`DEFAULT_QUANTILE` for a calibrated threshold on data
    in memory, and None with ``calibration="none"`` (the raw radius of the
    mixture's ellipsoids, the meaning of ``predict_within``) or a Dask
    array (the re-estimation needs the samples in memory).

    Examples
    --------
    >>> resolve_robust("auto", "predictive", dask_input=False)
    0.999
    >>> resolve_robust("auto", "none", dask_input=False) is None
    True
    >>> resolve_robust(0.975, "none", dask_input=False)
    0.975
    """
    if robust != "auto":
        return None if robust is None else float(robust)
    if calibration == "none" or dask_input:
        return None
    return DEFAULT_QUANTILE
