"""Gaussian mixtures that answer n-sigma questions, fitted on the distance kernel."""

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import chi2
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture
from sklearn.utils.validation import check_is_fitted

from sklearn_nsigma._compat import (
    _is_numpy_namespace,
    check_same_namespace,
    get_namespace_and_device,
    move_to,
)
from sklearn_nsigma._dask import is_dask_array, row_wise
from sklearn_nsigma._dask_fit import fit_predict_dask
from sklearn_nsigma._distance import MahalanobisKernel, kernel_dtype
from sklearn_nsigma._em import BayesianEMMixin, GaussianEMMixin
from sklearn_nsigma._fitted import FittedMixture, to_numpy
from sklearn_nsigma._geometry import EllipsoidParams, ellipsoid_params
from sklearn_nsigma._validation import check_n_sigma, validate_rows


def _no_out(estimator, arguments: dict) -> dict:
    if arguments["out"] is not None:
        raise TypeError("out must be None when X is a Dask array.")
    return arguments


def _per_component_columns(estimator, arguments: dict) -> int | None:
    return estimator.n_components if arguments["per_component"] else None


class NSigmaMixtureMixin:
    """The n-sigma additions shared by the mixtures of this package.

    Used left of a scikit-learn Gaussian mixture class: per-component
    Mahalanobis distances (:meth:`mahalanobis`), n-sigma membership
    (:meth:`predict_within`), chi-square tail probabilities
    (:meth:`tail_probability`) and ``ellipsoid_params_``, set by every
    fitting path.
    """

    def fit_predict(self, X: ArrayLike, y: object = None) -> np.ndarray:
        """Estimate model parameters using X and predict the labels for X.

        As :meth:`sklearn.mixture.GaussianMixture.fit_predict` (which
        :meth:`fit` calls), and then sets ``ellipsoid_params_``. A Dask
        array is fitted where its blocks live by :func:`fit_dask` (the same
        answer as in memory); its labels are then a lazy Dask array.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            List of n_features-dimensional data points. Each row
            corresponds to a single data point. A Dask array must be
            chunked along rows only.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        labels : array, shape (n_samples,)
            Component labels.
        """
        if is_dask_array(X):
            labels = fit_predict_dask(self, X, y)
        else:
            labels = super().fit_predict(X, y)
        self.ellipsoid_params_ = self._compute_ellipsoid_params()
        return labels

    def _compute_ellipsoid_params(self) -> EllipsoidParams:
        """Ellipsoids of the fitted components, in the namespace of means_."""
        xp, _, device = get_namespace_and_device(self.means_)
        params = ellipsoid_params(
            to_numpy(self.means_),
            to_numpy(self.covariances_),
            self.covariance_type,
        )
        if _is_numpy_namespace(xp):
            return params
        centers, radii, rotations = move_to(
            params.centers, params.radii, params.rotations, xp=xp, device=device
        )
        angles = params.angles
        if angles is not None:
            angles = move_to(angles, xp=xp, device=device)
        return EllipsoidParams(centers, radii, rotations, angles)

    def _distance_kernel(self, X) -> MahalanobisKernel:
        """The kernel for X from ``_validate_X``: it checks X for NaN and inf.

        Read from the public fitted attributes at every call, which a user
        may replace.
        """
        return FittedMixture.from_estimator(self).kernel(
            kernel_dtype(X), check_finite_for=type(self).__name__
        )

    def _check_namespace(self, X, method: str) -> None:
        """Refuse X from another array namespace or device than the fit's."""
        check_is_fitted(self)
        check_same_namespace(X, self, attribute="means_", method=method)

    @row_wise(dtype=int)
    def predict(self, X: ArrayLike) -> np.ndarray:
        self._check_namespace(X, "predict")
        return super().predict(X)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        self._check_namespace(X, "predict_proba")
        return super().predict_proba(X)

    def score_samples(self, X: ArrayLike) -> np.ndarray:
        self._check_namespace(X, "score_samples")
        return super().score_samples(X)

    predict.__doc__ = GaussianMixture.predict.__doc__
    predict_proba.__doc__ = GaussianMixture.predict_proba.__doc__
    score_samples.__doc__ = GaussianMixture.score_samples.__doc__

    def _validate_X(self, X, method: str):
        self._check_namespace(X, method)
        return validate_rows(self, X)

    def _within_arguments(self, arguments: dict) -> dict:
        """``n_sigma`` as one radius per component; ``per_component`` a bool."""
        per_component = arguments["per_component"]
        if not isinstance(per_component, (bool, np.bool_)):
            raise TypeError(
                f"per_component must be a bool, got {per_component!r} of type "
                f"{type(per_component).__name__}."
            )
        return {
            "n_sigma": check_n_sigma(
                arguments["n_sigma"], n_components=self.means_.shape[0]
            ),
            "per_component": bool(per_component),
        }

    @row_wise(n_columns="n_components", prepare=_no_out)
    def mahalanobis(self, X: ArrayLike, *, out: np.ndarray | None = None) -> np.ndarray:
        """Compute the Mahalanobis distance of each sample to each component.

        ``sqrt((x - mu_k)^T S_k^{-1} (x - mu_k))``, computed from the fitted
        precision Cholesky factors in chunks of rows, in the dtype of ``X``
        (float32 stays float32).

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            Samples. A Dask array (chunked along rows only) gives a lazy
            Dask array, computed block by block.

        out : ndarray of shape (n_samples, n_components), default=None
            Where to write the result, to reuse memory across calls: a
            writeable NumPy array of the dtype of ``X`` (float32 or float64).
            NumPy input only.

        Returns
        -------
        distances : ndarray of shape (n_samples, n_components)
            Distance (not squared) of every sample to every component
            (``out`` itself when given).

        Notes
        -----
        float32 input is computed in float32, whose largest value is about
        3.4e38: a distance beyond about 1.8e19 sigma (whose square exceeds
        it) comes out as ``inf``, and NaN is possible for values of ``X``
        themselves near 3.4e38. :meth:`predict_within` and
        :meth:`tail_probability` still answer correctly for such samples
        (outside, probability 0). Pass float64 ``X`` for finite distances
        that large.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_nsigma import NSigmaGaussianMixture
        >>> X = np.random.RandomState(0).normal(size=(500, 2))
        >>> gmm = NSigmaGaussianMixture(random_state=0).fit(X)
        >>> gmm.mahalanobis(gmm.means_).round(6)
        array([[0.]])
        """
        X = self._validate_X(X, "mahalanobis")
        if out is not None:
            _check_out(out, X, self.means_.shape[0])
        return self._distance_kernel(X).distances(X, out=out)

    @row_wise(n_columns="n_components")
    def tail_probability(self, X: ArrayLike) -> np.ndarray:
        """Chi-square tail probability of each sample under each component.

        ``chi2.sf(d_k(x)**2, n_features)``: the probability that a sample of
        component ``k`` lies farther from its mean (in Mahalanobis distance)
        than ``x``. It is 1 at the mean and decreases with the distance; it
        ranks points by probability rather than raw distance, comparably
        across dimensions.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            Samples. A Dask array (chunked along rows only) gives a lazy
            Dask array, computed block by block.

        Returns
        -------
        p_values : ndarray of shape (n_samples, n_components)
            Tail probability of every sample under every component, in the
            dtype of ``X``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_nsigma import NSigmaGaussianMixture
        >>> gmm = NSigmaGaussianMixture(random_state=0)
        >>> gmm.fit(np.random.RandomState(0).normal(size=(500, 1)))
        NSigmaGaussianMixture(random_state=0)
        >>> point = gmm.means_ + 3 * np.sqrt(gmm.covariances_[0, 0])
        >>> gmm.tail_probability(point).round(4)
        array([[0.0027]])
        """
        X = self._validate_X(X, "tail_probability")
        xp, _, device = get_namespace_and_device(X)
        squared = to_numpy(self._distance_kernel(X).squared(X))
        p_values = chi2.sf(squared, self.means_.shape[1]).astype(squared.dtype)
        if isinstance(X, np.ndarray):
            return p_values
        return move_to(p_values, xp=xp, device=device)

    @row_wise(
        dtype=bool,
        n_columns=_per_component_columns,
        prepare=lambda self, arguments: self._within_arguments(arguments),
    )
    def predict_within(
        self, X: ArrayLike, n_sigma: float | ArrayLike = 3.0, *, per_component=False
    ) -> np.ndarray:
        """Whether each sample lies inside the n-sigma ellipsoid of a component.

        A sample is inside (or on) the ellipsoid of component ``k`` when its
        Mahalanobis distance to it is at most ``n_sigma``. The decision is
        made on squared distances, in chunks of rows, without forming the
        (n_samples, n_components) distance matrix.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            Samples. A Dask array (chunked along rows only) gives a lazy
            Dask array, computed block by block.

        n_sigma : float or array-like of shape (n_components,), default=3.0
            Mahalanobis radius: a positive finite number, or one per
            component. Larger values make more samples inside. The mass of a
            component inside its n-sigma ellipsoid is
            ``sigma_to_coverage(n_sigma, n_features)``.

        per_component : bool, default=False
            If False, return whether each sample is inside at least one
            component's ellipsoid. If True, return membership for every
            component.

        Returns
        -------
        inside : ndarray of bool, of shape (n_samples,) or (n_samples, n_components)
            Membership of each sample (in each component's ellipsoid).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_nsigma import NSigmaGaussianMixture
        >>> rng = np.random.RandomState(0)
        >>> gmm = NSigmaGaussianMixture(random_state=0).fit(rng.normal(size=(1000, 2)))
        >>> gmm.predict_within([[0.5, 0.5], [3.0, 3.0]], n_sigma=2)
        array([ True, False])
        >>> gmm.predict_within([[3.0, 3.0]], n_sigma=[5.0], per_component=True)
        array([[ True]])
        """
        check_is_fitted(self)
        arguments = self._within_arguments(
            {"n_sigma": n_sigma, "per_component": per_component}
        )
        X = self._validate_X(X, "predict_within")
        return self._distance_kernel(X).within(
            X,
            np.square(arguments["n_sigma"]),
            per_component=arguments["per_component"],
        )


def _check_out(out, X, n_components: int) -> None:
    """Validate a user-supplied output array of mahalanobis."""
    expected = (X.shape[0], n_components)
    if not isinstance(out, np.ndarray) or not isinstance(X, np.ndarray):
        raise TypeError(
            f"out must be a NumPy array (and X NumPy data), got {type(out)}."
        )
    if out.shape != expected or out.dtype != X.dtype:
        raise ValueError(
            f"out must have shape {expected} and dtype {X.dtype}, got shape "
            f"{out.shape} and dtype {out.dtype}."
        )
    if not out.flags.writeable:
        raise ValueError("out must be writeable.")


class NSigmaGaussianMixture(NSigmaMixtureMixin, GaussianEMMixin, GaussianMixture):
    """Gaussian mixture that knows the n-sigma ellipsoid of every component.

    A drop-in replacement for :class:`sklearn.mixture.GaussianMixture`: every
    parameter, fitted attribute and method is inherited, and fitting gives the
    parent's answer (the same parameters, ``n_iter_`` and ``lower_bound_`` up
    to rounding), several times faster: the EM steps run on the package's
    distance kernel, in chunks of rows and threads (see
    :mod:`sklearn_nsigma._em`). It adds per-component Mahalanobis distances
    (:meth:`mahalanobis`), n-sigma membership (:meth:`predict_within`),
    chi-square tail probabilities (:meth:`tail_probability`) and the geometry
    of each component's ellipsoid (``ellipsoid_params_``).

    A sample ``x`` is inside the n-sigma ellipsoid of component ``k`` when its
    Mahalanobis distance ``sqrt((x - mu_k)^T S_k^{-1} (x - mu_k))`` is at most
    ``n``.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components. This and every other parameter
        (``covariance_type``, ``tol``, ``reg_covar``, ``max_iter``,
        ``n_init``, ``init_params``, ``weights_init``, ``means_init``,
        ``precisions_init``, ``random_state``, ``warm_start``, ``verbose``,
        ``verbose_interval``) is that of
        :class:`~sklearn.mixture.GaussianMixture`; see its documentation.

    Attributes
    ----------
    ellipsoid_params_ : EllipsoidParams
        Geometry of the components, set by every fitting path (``fit``,
        ``fit_predict``, warm starts): ``centers`` (n_components,
        n_features), 1-sigma ``radii`` (n_components, n_features) in
        descending order, proper ``rotations`` (n_components, n_features,
        n_features) whose columns are the principal axes, and ``angles``
        (n_components,) of the major axes in degrees for 2-D data (None
        otherwise). The n-sigma semi-axes are ``n * radii``.

    weights_, means_, covariances_, precisions_, precisions_cholesky_, \
converged_, n_iter_, lower_bound_, lower_bounds_, n_features_in_, \
feature_names_in_
        As in :class:`~sklearn.mixture.GaussianMixture`.

    See Also
    --------
    sklearn.mixture.GaussianMixture : The parent class.
    NSigmaBayesianGaussianMixture : The variational Bayesian counterpart.
    sigma_to_coverage : Probability mass inside the n-sigma ellipsoid.
    coverage_to_sigma : Radius of the ellipsoid holding a given mass.

    Notes
    -----
    "n sigma" is a Mahalanobis radius, not a probability. The mass of a
    d-dimensional Gaussian inside its n-sigma ellipsoid is
    ``chi2.cdf(n**2, d)``: 1, 2 and 3 sigma hold 68.3 %, 95.4 % and 99.7 %
    in 1-D, 39.3 %, 86.5 % and 98.9 % in 2-D, and 3 sigma holds only 46.8 %
    in 10-D. Use :func:`coverage_to_sigma` to pick a radius by probability,
    or :meth:`tail_probability` to rank samples by probability.

    A pdf threshold does not give comparable regions across components
    (their normalising constants differ), and the multivariate CDF is not a
    probability of belonging to a component; Mahalanobis radii are
    comparable.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nsigma import NSigmaGaussianMixture
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(0, 1, (200, 2)), rng.normal(8, 2, (200, 2))])
    >>> gmm = NSigmaGaussianMixture(n_components=2, random_state=0).fit(X)
    >>> gmm.mahalanobis(X[:3]).shape
    (3, 2)
    >>> gmm.predict_within([[0.0, 0.0], [4.0, -6.0]], n_sigma=3)
    array([ True, False])
    >>> gmm.ellipsoid_params_.radii.shape
    (2, 2)
    """


class NSigmaBayesianGaussianMixture(
    NSigmaMixtureMixin, BayesianEMMixin, BayesianGaussianMixture
):
    """Variational Bayesian Gaussian mixture with n-sigma ellipsoids.

    A drop-in replacement for :class:`sklearn.mixture.BayesianGaussianMixture`
    (the default mixture of :class:`NSigmaOutlierDetector`): every parameter,
    fitted attribute and method is inherited, and fitting gives the parent's
    answer (the same parameters, ``n_iter_`` and ``lower_bound_`` up to
    rounding), several times faster, as for :class:`NSigmaGaussianMixture`.
    It adds the same n-sigma methods: :meth:`mahalanobis`,
    :meth:`predict_within`, :meth:`tail_probability` and
    ``ellipsoid_params_``, computed from ``covariances_`` (the means of the
    variational posterior of the covariances).

    .. versionadded:: 0.1

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components (an upper bound: the variational
        posterior can leave some of them with negligible weight). This and
        every other parameter (``covariance_type``, ``tol``, ``reg_covar``,
        ``max_iter``, ``n_init``, ``init_params``,
        ``weight_concentration_prior_type``, ``weight_concentration_prior``,
        ``mean_precision_prior``, ``mean_prior``, ``degrees_of_freedom_prior``,
        ``covariance_prior``, ``random_state``, ``warm_start``, ``verbose``,
        ``verbose_interval``) is that of
        :class:`~sklearn.mixture.BayesianGaussianMixture`; see its
        documentation.

    Attributes
    ----------
    ellipsoid_params_ : EllipsoidParams
        Geometry of the components, as in :class:`NSigmaGaussianMixture`.

    weights_, means_, covariances_, precisions_, precisions_cholesky_, \
converged_, n_iter_, lower_bound_, lower_bounds_, weight_concentration_prior_, \
weight_concentration_, mean_precision_prior_, mean_precision_, mean_prior_, \
degrees_of_freedom_prior_, degrees_of_freedom_, covariance_prior_, \
n_features_in_, feature_names_in_
        As in :class:`~sklearn.mixture.BayesianGaussianMixture`.

    See Also
    --------
    sklearn.mixture.BayesianGaussianMixture : The parent class.
    NSigmaGaussianMixture : The maximum-likelihood counterpart.
    sigma_to_coverage : Probability mass inside the n-sigma ellipsoid.

    Notes
    -----
    "n sigma" is a Mahalanobis radius, not a probability: the mass of a
    d-dimensional Gaussian inside its n-sigma ellipsoid is
    ``chi2.cdf(n**2, d)`` (see :class:`NSigmaGaussianMixture`).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nsigma import NSigmaBayesianGaussianMixture
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(0, 1, (200, 2)), rng.normal(8, 2, (200, 2))]
    >>> bgm = NSigmaBayesianGaussianMixture(n_components=4, random_state=0)
    >>> bgm.fit(X).weights_.round(2)  # two of the four components are left empty
    array([0.5, 0.5, 0. , 0. ])
    >>> bgm.tail_probability([[8.0, 8.0]]).round(2)
    array([[0.99, 0.  , 0.36, 0.36]])
    """
