"""NSigmaOutlierDetector: any Gaussian mixture as an outlier detector in sigmas."""

from numbers import Real

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    MetaEstimatorMixin,
    OutlierMixin,
    TransformerMixin,
)

from sklearn_nsigma._compat import (
    HasMethods,
    StrOptions,
    _fit_context,
    _is_numpy_namespace,
    get_namespace,
    get_namespace_and_device,
    move_to,
)
from sklearn_nsigma._dask import is_dask_array, map_row_blocks, row_wise
from sklearn_nsigma._distance import kernel_dtype
from sklearn_nsigma._fitted import FittedMixture, resolve_min_weight
from sklearn_nsigma._fitting import (
    fit_mixture,
    robust_view,
    unchanged_on_error,
    validate_training_data,
)
from sklearn_nsigma._robust import resolve_robust
from sklearn_nsigma._threshold import (
    CALIBRATIONS,
    DEFAULT_N_SIGMA,
    calibrated_sigmas,
    calibration_laws,
    check_one_threshold,
    inside_scales,
    threshold_from_parameters,
    threshold_radii,
)
from sklearn_nsigma._validation import POSITIVE_FINITE, StrictInterval, validate_rows


class NSigmaOutlierDetector(
    OutlierMixin,
    TransformerMixin,
    ClassNamePrefixFeaturesOutMixin,
    MetaEstimatorMixin,
    BaseEstimator,
):
    """Outlier detector that thresholds the distance to a Gaussian mixture, in sigmas.

    Wraps any Gaussian mixture (:class:`~sklearn.mixture.GaussianMixture`,
    :class:`~sklearn.mixture.BayesianGaussianMixture`,
    :class:`NSigmaGaussianMixture`, ...). A sample is an inlier when it lies
    inside the threshold ellipsoid of at least one component of
    non-negligible weight (see ``min_weight``). By default ``n_sigma`` means
    the same in every dimension and on new data: a sample is an outlier of
    component ``k`` when a new sample of that component would lie farther
    out with probability below ``2 * norm.sf(n_sigma)`` (0.27 % at 3, as a
    3-sigma deviation in one dimension), accounting for the component's mean
    and covariance being estimated from its share of the training samples
    (see ``calibration`` and Notes).

    It follows the outlier API of
    :class:`~sklearn.covariance.EllipticEnvelope` (``predict`` returns +1
    for inliers and -1 for outliers), and is also a transformer whose output
    is the raw Mahalanobis distance of every sample to every component.

    Parameters
    ----------
    estimator : estimator object, default=None
        The mixture. An unfitted estimator is cloned and the clone is fitted
        in :meth:`fit` (the object passed is never modified); a fitted one
        wrapped in :class:`sklearn.frozen.FrozenEstimator` is used as is. It
        must expose ``means_``, ``covariance_type`` and
        ``precisions_cholesky_`` (or ``covariances_``) once fitted, and may
        expose ``weights_``; anything else raises a TypeError in
        :meth:`fit`. If None, a
        ``NSigmaBayesianGaussianMixture(n_components=10, tol=1e-3 * n_samples,
        random_state=random_state)`` fitted on the standardised features and
        reported in the data's units (its ``reg_covar`` is relative to each
        feature's variance: the default does not depend on units; and no
        component is narrower than rounding to a discrete feature's
        quantum ``q``, variance ``q**2 / 12``). Its
        Dirichlet process prior adapts the number of components (up to 10);
        the unused ones are left out by ``min_weight``. The tolerance is
        ``1e-3`` per sample: scikit-learn's Bayesian lower bound is a sum.

    n_sigma : float, default=3.0
        The threshold, positive and finite, in the unit ``calibration``
        sets: by default "as unlikely as ``n_sigma`` sigmas in one
        dimension". Larger values flag fewer samples. Used unless
        ``coverage`` or ``contamination`` is set; setting one of those with
        ``n_sigma`` away from its default is an error.

    calibration : {'predictive', 'chi2', 'none'}, default='predictive'
        What ``n_sigma`` (and every score) means.

        - 'predictive': the tail probability ``2 * norm.sf(n_sigma)`` under
          each component's finite-sample predictive distribution: Hotelling's
          F prediction region for a maximum-likelihood mixture, the Student
          t posterior predictive for a Bayesian one (see Notes). The raw
          radius differs per component (``radii_``): the fewer samples a
          component was fitted on, the larger.
        - 'chi2': the same probability under ``N(mu_k, S_k)`` taken as
          known: the squared radius is
          ``chi2.isf(2 * norm.sf(n_sigma), n_features)`` (3.44 in 2-D, 5.19
          in 10-D at ``n_sigma=3``).
        - 'none': ``n_sigma`` is the raw Mahalanobis radius, the meaning of
          :meth:`NSigmaGaussianMixture.predict_within` and of the ellipses
          drawn by the displays. Its mass falls with the dimension: 3 raw
          sigmas hold 98.9 % of a Gaussian in 2-D, 46.8 % in 10-D.

    coverage : float, default=None
        The threshold as the probability mass, in (0, 1), that each
        component's ellipsoid must hold, under the law ``calibration``
        names (the chi-square law for 'none' and 'chi2'): ``threshold_`` is
        then ``norm.isf((1 - coverage) / 2)`` sigmas, or the raw radius
        ``coverage_to_sigma(coverage, n_features)`` for 'none'. Replaces
        ``n_sigma``.

    contamination : float, default=None
        The threshold as the fraction of training samples to flag, in
        (0, 0.5], as in :class:`~sklearn.covariance.EllipticEnvelope`:
        ``threshold_`` is the ``1 - contamination`` quantile of the training
        samples' scores. Replaces ``n_sigma``; setting both ``coverage`` and
        ``contamination`` is an error.

    min_weight : float or 'auto', default='auto'
        Components whose mixture weight (``weights_``) is below
        ``min_weight`` do not make samples inliers; the heaviest component
        is always used. A weight is roughly the fraction of training samples
        a component explains. 'auto' means ``max(0.05, (n_features + 2) /
        n_samples)``: at least 5 % of the training samples, and enough of
        them for a covariance. This leaves out the near-empty components of a
        :class:`~sklearn.mixture.BayesianGaussianMixture` (they get about
        one sample's weight, or less, and the prior's broad covariance
        centred between the clusters), and the broad low-weight components
        that a mixture fits to scattered outliers in the training data,
        whose ellipsoids would otherwise cover them. Noise heavier than
        ``min_weight`` can still earn such a component: then fit fewer
        components or raise ``min_weight``. Lower it (``0`` uses every
        component) when genuine clusters hold less than 5 % of the data, or
        when the mixture has many components (more than about 20). Mixtures
        without ``weights_`` weigh their components equally.

    robust : float, 'auto' or None, default='auto'
        Robust ellipsoids: a quantile in (0.5, 1) (0.975 is ``MinCovDet``'s
        choice). 'auto' is 0.999 (only gross outliers left out), but None
        with ``calibration="none"`` (the mixture's own ellipsoids, as in
        ``predict_within``) and for a Dask array (a float there is an
        error). After the fit, components one Gaussian cluster explains
        better are merged, those no denser than uniform noise left out, and
        every eligible one re-estimated from the samples it explains best
        inside the ``robust`` quantile of its law, iterated to a
        fixed point (see Notes): outliers in the training data no longer
        inflate the ellipsoids they are measured against; the mixture's
        ``reg_covar`` times each feature's variance, and at least the
        variance of rounding to the feature's quantum, regularises them. The
        mixture is not modified (a ``FrozenEstimator`` works too). None uses
        the mixture's parameters as they are.

    memory : str or object with the joblib.Memory interface, default=None
        Cache of the fitted mixture, as in :class:`~sklearn.pipeline.Pipeline`.
        The mixture depends only on ``estimator`` and the data, not on the
        threshold, so with a cache a search over ``n_sigma``, ``coverage``,
        ``contamination`` or ``min_weight`` fits it once per split (see
        Notes). By default no caching is done; a string is the path of the
        cache directory. The cache is keyed on the estimator's parameters
        and the data: give the mixture a fixed ``random_state``, or a cached
        fit is reused where a new random one was meant. Not used with a
        ``FrozenEstimator``.

    random_state : int, RandomState instance or None, default=None
        Seed of the default mixture. Used only when ``estimator`` is None;
        set the ``random_state`` of your own estimator instead.

    Attributes
    ----------
    estimator_ : estimator object
        The fitted mixture (the ``FrozenEstimator`` itself when one was
        given). With ``robust``, the detector's ellipsoids differ from its
        parameters.

    offset_ : float
        ``-threshold_``: ``decision_function = score_samples - offset_``.

    threshold_ : float
        The threshold in the unit of ``calibration`` (equivalent
        one-dimensional sigmas, or the raw radius for 'none'): ``n_sigma``,
        the value ``coverage`` implies, or the score quantile that
        ``contamination`` implies.

    radii_ : ndarray of shape (n_components,)
        The raw Mahalanobis radius of each component's threshold ellipsoid
        (``threshold_`` itself for ``calibration="none"``): the ellipsoids
        ``predict`` tests, and the ones to draw.

    min_weight_ : float
        The minimum weight used (``min_weight``, or its 'auto' value).

    eligible_components_ : ndarray of bool of shape (n_components,)
        Whether each component's ellipsoid can make samples inliers: its
        weight is at least ``min_weight_`` (or it is the heaviest), and
        ``robust`` neither merged it, nor left it out as background noise,
        nor left it with fewer than ``min_weight_`` of the samples once its
        outliers were trimmed.

    n_robust_iter_ : int
        Number of reweighting steps of ``robust`` (only set with it).

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    NSigmaOutlierFilter : Drops the outlier rows, at fit time only, in an
        imbalanced-learn pipeline.
    make_outlier_scorer : Scorers for searching the threshold, with outliers
        as the positive class.
    sklearn.covariance.EllipticEnvelope : One robust Gaussian, thresholded by
        contamination.

    Notes
    -----
    **Scores.** With a calibration, the score of ``x`` under component
    ``k`` is its tail probability ``p_k(x)``, the probability that a new
    sample of the component lies farther out (in Mahalanobis distance
    ``d_k``), read as equivalent one-dimensional sigmas
    ``z_k = norm.isf(p_k / 2)``. ``score_samples(x) = -min_k z_k(x)`` over
    the eligible components (the component under which ``x`` is most
    probable), ``offset_ = -threshold_``, so ``decision_function(x) =
    threshold_ - min_k z_k(x)`` reads as "sigmas to spare": positive inside,
    0 on the boundary (an inlier), negative outside, and ``predict(x) == 1``
    exactly when ``decision_function(x) >= 0``. ``p_k`` is computed in log
    space, so scores stay finite and monotone in the distance for samples
    whose tail probability is far below 1e-300. With
    ``calibration="none"``, ``z_k = d_k``. :meth:`transform` always returns
    the raw distances ``d_k``.

    **The predictive laws.** Each is written as ``c_k * d_k**2 ~ d * F(d,
    m_k)`` (``d = n_features``; ``d / g`` and ``c_k / g`` for a robust
    component given a diagonal covariance, below); 'chi2' is ``c_k = 1``,
    ``m_k = inf`` (``d_k**2 ~ chi2(d)``). For a maximum-likelihood fit with effective
    sample size ``n_k = weights_[k] * n_samples`` (the ``n_samples`` given
    to :meth:`fit`), the mean estimate is off by ``N(0, S / n_k)`` and the
    covariance estimate is Wishart with ``n_k - 1`` degrees of freedom,
    independent of the new sample; so ``x - mean_k ~ N(0, (1 + 1/n_k) S)``,
    and Hotelling's ``T**2 = (n_k - 1) / (n_k + 1) * d_k**2`` (``d_k`` under
    the maximum-likelihood covariance) follows ``T**2(d, n_k - 1)``, i.e.
    ``(n_k - d) / (n_k + 1) * d_k**2 ~ d F(d, n_k - d)``: the 'full' case.
    'tied': the pooled covariance has ``nu = n_samples - n_components``
    degrees of freedom, so ``c_k = nu / n_samples * n_k / (n_k + 1) *
    (nu - d + 1) / nu`` and ``m_k = nu - d + 1``. 'spherical': one variance
    from ``d (n_k - 1)`` degrees of freedom gives the exact
    ``(n_k - 1) / (n_k + 1) * d_k**2 ~ d F(d, d (n_k - 1))``. 'diag':
    ``(n_k - 1) / (n_k + 1) * d_k**2`` is a sum of ``d`` independent squared
    Student t variables with ``nu = n_k - 1`` degrees of freedom, which has
    no closed form; it is approximated by the scaled ``d F(d, m)`` with the
    same mean and variance, ``m = ((d + 2) nu - 4 (d - 1)) / 3`` (exact for
    ``d = 1``). Degrees of freedom are floored at 1: a component with fewer
    effective samples than dimensions gets the heaviest tail.

    A :class:`~sklearn.mixture.BayesianGaussianMixture`'s Student t
    predictive (Bishop, 2006, eq. 10.81) counts its prior's pseudo-samples,
    which carry the whole data's scatter, and over-flags in high dimension:
    the law used is the reference prior's, Hotelling's with ``n_k =
    mean_precision_[k] - mean_precision_prior_`` (see :ref:`calibration`).

    **Robust ellipsoids.** With ``robust=q``, each sample goes to the
    component of highest ``weights_[k] * N(x; mu_k, S_k)``; components that
    one Gaussian cluster explains better are merged (a BIC test on the axis
    that separates them), eligibility (``min_weight``) is decided after the
    merges, and components no denser than uniform noise over the data's
    bounding box are left out (see the user guide). Then component ``k``
    keeps its samples with ``d_k**2 <= chi2.ppf(q, d)`` and takes their mean
    and covariance, multiplied by ``q / chi2.cdf(chi2.ppf(q, d), d + 2)``
    (the consistency factor of a Gaussian truncated there, as in
    ``MinCovDet``'s reweighting). The step repeats until the kept samples
    do not change. The predictive law of a re-estimated component is the
    maximum-likelihood one with ``n_k`` the number of kept samples. A 'full'
    component kept with fewer than 10 samples per feature takes its
    variances only, from then on (from so few samples, the noise of the
    estimated correlations swamps the distances); its law is the diagonal
    one, with ``c_k / g`` and Satterthwaite's ``d / g`` degrees of freedom
    for the correlations ``R`` it leaves out (``g = tr(R**2) / d``), and its
    cutoff and consistency factor are those of ``g chi2(d / g)``.

    **check_estimator.** scikit-learn's ``check_outliers_train`` expects
    some of its 300 clean training samples to be flagged; the calibrated
    3-sigma default flags about 0.27 % of clean data and none there. The
    test suite declares that one check an expected failure for the default
    and runs the whole suite, that check included, with ``n_sigma=2`` and
    with ``calibration="none"``.

    **Which threshold wins.** ``contamination`` if it is set, else
    ``coverage`` if it is set, else ``n_sigma``. A combination where one
    would silently override another (``n_sigma`` away from its default
    with ``coverage`` or ``contamination``, or both of those) raises a
    ValueError, so a search over ``n_sigma`` is never silently inert.

    **Searching the threshold.** With labelled data (``y`` = +1 for inliers,
    -1 for outliers), :class:`~sklearn.model_selection.GridSearchCV` can
    search ``n_sigma``, ``coverage`` or ``contamination`` with a thresholded
    score such as ``make_outlier_scorer("f1")``. Threshold-free metrics (ROC
    AUC, average precision) rank samples by ``score_samples`` and do not
    change with the threshold. Outlier detectors are not classifiers, so the
    search's default folds are unstratified (and unshuffled): pass
    ``cv=StratifiedKFold(5, shuffle=True, random_state=0)`` so that every
    fold holds outliers. Set ``memory`` so that the mixture is fitted once
    per split rather than once per candidate threshold.

    **Large and non-NumPy data.** ``score_samples``, ``decision_function``,
    ``predict`` and ``transform`` accept a Dask array (chunked along rows
    only) and return a lazy Dask array computed block by block, with the
    fitted detector shipped to each worker once. Under
    ``sklearn.config_context(array_api_dispatch=True)`` they also accept
    array API arrays (PyTorch, CuPy, array-api-strict ...) and return the same
    namespace and device; the calibrated scores are computed on the host.
    ``fit`` always runs on NumPy (array API input is copied to the host) and
    the fitted attributes are NumPy arrays, which is why the
    ``array_api_support`` tag is False.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture
    >>> from sklearn_nsigma import NSigmaOutlierDetector
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(0, 1, (200, 2)), rng.normal(8, 1, (200, 2))])
    >>> detector = NSigmaOutlierDetector(GaussianMixture(2, random_state=0))
    >>> detector.fit(X).predict([[0.0, 0.5], [4.0, 4.0], [8.5, 8.0]])
    array([ 1, -1,  1])
    >>> detector.threshold_
    3.0
    >>> detector.radii_.round(2)  # raw radii: 3.44 in 2-D if the fit were exact
    array([3.52, 3.52])
    >>> detector.transform(X[:3]).shape
    (3, 2)
    >>> raw = NSigmaOutlierDetector(
    ...     GaussianMixture(2, random_state=0), calibration="none", coverage=0.5
    ... )
    >>> round(raw.fit(X).threshold_, 3)
    1.177
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"]), None],
        "n_sigma": [POSITIVE_FINITE],
        "calibration": [StrOptions(set(CALIBRATIONS))],
        "coverage": [StrictInterval(Real, 0, 1, closed="neither"), None],
        "contamination": [StrictInterval(Real, 0, 0.5, closed="right"), None],
        "min_weight": [
            StrictInterval(Real, 0, 1, closed="both"),
            StrOptions({"auto"}),
        ],
        "robust": [
            StrictInterval(Real, 0.5, 1, closed="neither"),
            StrOptions({"auto"}),
            None,
        ],
        "memory": [None, str, HasMethods(["cache"])],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        n_sigma=DEFAULT_N_SIGMA,
        calibration="predictive",
        coverage=None,
        contamination=None,
        min_weight="auto",
        robust="auto",
        memory=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.n_sigma = n_sigma
        self.calibration = calibration
        self.coverage = coverage
        self.contamination = contamination
        self.min_weight = min_weight
        self.robust = robust
        self.memory = memory
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: ArrayLike, y: object = None) -> "NSigmaOutlierDetector":
        """Fit the mixture (unless frozen) and set the threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples, without missing or infinite values.

        y : Ignored
            Not used by the mixtures of scikit-learn; passed on to the
            estimator's ``fit``.

        Returns
        -------
        self : object
            The fitted detector. If anything fails (bad parameters, bad
            ``X``, an unsupported estimator), it is left as it was.
        """
        check_one_threshold(self)
        with unchanged_on_error(self):
            self._fit(X, y)
        return self

    def _fit(self, X, y) -> None:
        X = validate_training_data(self, X)
        n_samples, n_features = X.shape
        mixture = fit_mixture(self.estimator, X, y, self.memory, self.random_state)
        fitted = FittedMixture.from_estimator(mixture, n_features)
        # Building the kernel checks that every factor is finite and invertible.
        fitted.kernel(np.float64)
        min_weight = resolve_min_weight(self.min_weight, n_samples, n_features)
        eligible = fitted.eligible(min_weight)
        estimates = None  # how the robust step re-estimated each component
        robust = resolve_robust(self.robust, self.calibration, is_dask_array(X))
        if robust is not None:
            fitted, estimates, eligible, self.n_robust_iter_ = robust_view(
                X, fitted, min_weight, mixture, robust
            )
        laws = calibration_laws(self.calibration, mixture, fitted, n_samples, estimates)
        self.estimator_ = mixture
        self._fitted_mixture = fitted
        self._laws = laws
        self.min_weight_ = min_weight
        self.eligible_components_ = eligible
        self._n_features_out = fitted.n_components
        if self.contamination is None:
            self.threshold_ = threshold_from_parameters(self, n_features)
        else:  # the training scores' quantile; a Dask array's, where it lives
            if is_dask_array(X):
                sigmas = map_row_blocks(self, "_sigmas", X, n_columns=None, dtype=float)
                sigmas = sigmas.compute()
            else:
                sigmas = self._sigmas(X)
            self.threshold_ = float(
                np.percentile(sigmas, 100.0 * (1.0 - self.contamination))
            )
        self.offset_ = -self.threshold_
        self.radii_ = threshold_radii(self.calibration, self.threshold_, laws)
        self._scales = inside_scales(self.radii_)

    def _kernel(self, X, eligible_only: bool = False, check_finite: bool = True):
        """The distance kernel of all or the eligible components (checking X)."""
        return self._fitted_mixture.kernel(
            kernel_dtype(X),
            self.eligible_components_ if eligible_only else None,
            check_finite_for=type(self).__name__ if check_finite else None,
        )

    def _sigmas(self, X) -> np.ndarray:
        """The score in sigmas (NumPy X): ``min`` over eligible components."""
        eligible = self.eligible_components_
        return calibrated_sigmas(
            self._kernel(X, eligible_only=True),
            X,
            self.calibration,
            self._laws.select(eligible),
        )

    def _inside(self, X, check_finite: bool = True):
        """Whether each sample is inside some eligible threshold ellipsoid."""
        kernel = self._kernel(X, eligible_only=True, check_finite=check_finite)
        return kernel.min_scaled(X, self._scales[self.eligible_components_]) <= 1

    @row_wise()
    def score_samples(self, X: ArrayLike) -> np.ndarray:
        """Compute the negated score in sigmas of the nearest eligible component.

        With a calibration, ``-z(x)``, where ``z(x)`` is the "equivalent
        one-dimensional sigmas" of the largest tail probability ``p`` of
        ``x`` over the eligible components: ``2 * norm.sf(z) = p`` (see
        Notes). With ``calibration="none"``, ``-min_k d_k(x)``, the negated
        Mahalanobis distance. 0 at a component's mean, lower for more
        abnormal samples; it does not depend on the threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            The score of every sample, in the floating dtype of ``X``.
        """
        X = validate_rows(self, X)
        xp, _, device = get_namespace_and_device(X)
        numpy_input = _is_numpy_namespace(xp)
        X_np = X if numpy_input else move_to(X, xp=np, device="cpu")
        dtype = np.float32 if kernel_dtype(X_np) == "float32" else np.float64
        sigmas = np.asarray(self._sigmas(X_np), dtype=dtype)
        # Make the sign of decision_function agree exactly with predict's
        # comparison: the two differ only by rounding at the boundary.
        inside = self._inside(X_np, check_finite=False)
        threshold = dtype(self.threshold_)
        beyond = np.nextafter(threshold, dtype(np.inf))
        sigmas = np.where(
            inside, np.minimum(sigmas, threshold), np.maximum(sigmas, beyond)
        )
        scores = np.negative(sigmas)
        if numpy_input:
            return scores
        return move_to(scores, xp=xp, device=device)

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Compute the sigmas to spare, ``score_samples(X) - offset_``.

        ``threshold_ - z(x)``: positive for inliers, 0 on the boundary of
        the threshold ellipsoids (an inlier), negative for outliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to decide on (a Dask array gives a lazy Dask array, as
            for :meth:`score_samples`).

        Returns
        -------
        decision : ndarray of shape (n_samples,)
            The decision value of every sample, in the floating dtype of
            ``X``.
        """
        return self.score_samples(X) - self.offset_

    @row_wise(dtype=int)
    def predict(self, X: ArrayLike) -> np.ndarray:
        """Label each sample +1 (inlier) or -1 (outlier).

        A sample is an inlier exactly when ``decision_function(x) >= 0``: it
        lies inside (or on) the threshold ellipsoid of at least one eligible
        component, whose raw radii are ``radii_``. No tail probability is
        computed and no (n_samples, n_components) array is formed.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to label. A Dask array (chunked along rows only) gives
            a lazy Dask array, computed block by block.

        Returns
        -------
        labels : ndarray of int of shape (n_samples,)
            +1 for inliers, -1 for outliers.
        """
        X = validate_rows(self, X)
        inside = self._inside(X)
        if not isinstance(inside, np.ndarray):
            xp, _ = get_namespace(inside)
            labels = xp.ones(inside.shape, dtype=xp.int64, device=inside.device)
            return xp.where(inside, labels, -labels)
        is_inlier = np.full(inside.shape[0], -1, dtype=int)
        is_inlier[inside] = 1
        return is_inlier

    @row_wise(n_columns="_n_features_out")
    def transform(self, X: ArrayLike) -> np.ndarray:
        """Compute the Mahalanobis distance of each sample to each component.

        Every component is included, eligible or not, in the order of the
        mixture's ``means_``; the output features are named
        ``nsigmaoutlierdetector0``, ``nsigmaoutlierdetector1``, ... (see
        :meth:`get_feature_names_out`). Use :meth:`set_output` for pandas
        or polars output.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to measure, with the features the detector was fitted
            on (a Dask array gives a lazy result, as :meth:`predict`).

        Returns
        -------
        distances : ndarray of shape (n_samples, n_components)
            Distances in sigmas, in the floating dtype of ``X``.
        """
        X = validate_rows(self, X)
        return self._kernel(X).distances(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.array_api_support = False
        return tags
