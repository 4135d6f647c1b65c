"""CoverageDisplay: the observed fraction within n sigma against chi-square."""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from sklearn_nsigma._coverage import (
    coverage_curves,
    coverage_to_sigma,
    sigma_to_coverage,
)
from sklearn_nsigma._plot._base import (
    component_color,
    component_label,
    import_pyplot,
    merge_style,
    set_axis_labels,
)
from sklearn_nsigma._plot._inputs import fitted
from sklearn_nsigma._plot._mixture import mahalanobis_distances, mixture_weights

XLABEL = "n (Mahalanobis radius, sigmas)"
YLABEL = "fraction within n sigma"


@dataclass(kw_only=True, repr=False, eq=False)
class CoverageDisplay:
    """Observed fraction of samples within n sigma against the chi-square law.

    For each component, the responsibility-weighted fraction of samples within
    Mahalanobis distance ``n`` is drawn against ``n``, with the fraction
    ``chi2.cdf(n**2, n_features)`` that a Gaussian component would hold. A
    curve far below the expectation at large ``n`` means heavy tails or
    outliers; far above, a component tighter than Gaussian; a curve that
    crosses the expectation in an S shape often means that a component
    covers two clusters (too few components) or a curved one.

    It is recommended to use :meth:`from_estimator` to create the display.
    All parameters are stored as attributes.

    .. versionadded:: 0.1

    Parameters
    ----------
    n_sigma : ndarray of shape (n_levels,)
        Radii at which coverage is evaluated.

    observed : ndarray of shape (n_components, n_levels)
        Observed coverage of each drawn component.

    expected : ndarray of shape (n_levels,)
        ``chi2.cdf(n_sigma**2, n_features)``.

    effective_n : ndarray of shape (n_components,), default=None
        Effective number of samples of each drawn component.

    components : ndarray of shape (n_components,), default=None
        Index of each drawn component in the mixture.

    weights : ndarray of shape (n_components_total,), default=None
        Weights of all components, indexed by ``components``.

    n_features : int, default=None
        Dimension, for the label of the expectation.

    xlabel, ylabel : str, default=None
        Axis labels. None means "n (Mahalanobis radius, sigmas)" and
        "fraction within n sigma".

    Attributes
    ----------
    lines_ : list of matplotlib Line2D
        The observed curve of each drawn component.

    expected_line_ : matplotlib Line2D
        The chi-square expectation.

    ax_ : matplotlib Axes
        Axes with the curves.

    figure_ : matplotlib Figure
        Figure containing the curves.

    See Also
    --------
    sklearn_nsigma.sigma_to_coverage : The expectation.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_nsigma import CoverageDisplay, NSigmaGaussianMixture
    >>> X = np.random.RandomState(0).normal(size=(2000, 3))
    >>> gmm = NSigmaGaussianMixture(random_state=0).fit(X)
    >>> display = CoverageDisplay.from_estimator(gmm, X, n_sigma=[1, 2, 3])
    >>> display.expected.round(3)
    array([0.199, 0.739, 0.971])
    >>> bool(np.abs(display.observed - display.expected).max() < 0.02)
    True
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    """

    n_sigma: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    effective_n: np.ndarray | None = None
    components: np.ndarray | None = None
    weights: np.ndarray | None = None
    n_features: int | None = None
    xlabel: str | None = None
    ylabel: str | None = None

    def _expected_label(self) -> str:
        if self.n_features is None:
            return "chi-square expectation"
        return f"chi2.cdf(n², {self.n_features})"

    def plot(
        self,
        ax=None,
        *,
        legend: bool = True,
        expected_kwargs: dict | None = None,
        **kwargs,
    ) -> "CoverageDisplay":
        """Draw the observed and expected coverage curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on. If None, a new figure and axes are created.

        legend : bool, default=True
            Whether to add a legend, in the lower right corner (below the
            curves, which reach 1 on the right).

        expected_kwargs : dict, default=None
            Keywords for the line of the chi-square expectation.

        **kwargs : dict
            Keywords for the observed line of every component.

        Returns
        -------
        display : CoverageDisplay
            The display, with its artists set.
        """
        plt = import_pyplot("CoverageDisplay.plot")
        if ax is None:
            _, ax = plt.subplots()
        observed = np.atleast_2d(np.asarray(self.observed))
        n_sigma = np.asarray(self.n_sigma)
        components = (
            np.arange(observed.shape[0])
            if self.components is None
            else np.asarray(self.components)
        )
        defaults = {"color": "black", "linestyle": "--", "linewidth": 2, "zorder": 3}
        defaults["label"] = self._expected_label()
        (self.expected_line_,) = ax.plot(
            n_sigma, self.expected, **merge_style(defaults, expected_kwargs)
        )
        self.lines_ = []
        for k, component in enumerate(components):
            label = component_label(component, self.weights)
            if self.effective_n is not None:
                label += f", n≈{self.effective_n[k]:.0f}"
            defaults = {"color": component_color(component), "label": label}
            (line,) = ax.plot(n_sigma, observed[k], **merge_style(defaults, kwargs))
            self.lines_.append(line)
        ax.set_ylim(-0.02, 1.02)
        set_axis_labels(ax, (self.xlabel or XLABEL, self.ylabel or YLABEL))
        if legend:
            ax.legend(fontsize="small", loc="lower right")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X: ArrayLike,
        *,
        n_sigma: ArrayLike | None = None,
        min_weight: float | str = "auto",
        legend: bool = True,
        xlabel: str | None = None,
        ylabel: str | None = None,
        ax=None,
        expected_kwargs: dict | None = None,
        **kwargs,
    ) -> "CoverageDisplay":
        """Draw the coverage diagnostic of a fitted mixture or detector.

        Parameters
        ----------
        estimator : estimator instance
            A mixture, detector or Pipeline (see
            :meth:`EllipseDisplay.from_estimator`), fitted.

        X : array-like of shape (n_samples, n_features)
            Samples; each counts for component ``k`` with its responsibility
            ``predict_proba(X)[:, k]``.

        n_sigma : array-like of float, default=None
            Radii at which to evaluate the coverage. None means 121 points
            from 0 to the radius holding 99.99 % in ``n_features``
            dimensions.

        min_weight : float in [0, 1] or 'auto', default='auto'
            Lighter components get no curve ('auto' as in
            :meth:`EllipseDisplay.from_estimator`).

        legend : bool, default=True
            Whether to add a legend.

        xlabel, ylabel : str, default=None
            Axis labels, as in the constructor.

        ax : matplotlib Axes, default=None
            Axes to draw on. If None, a new figure and axes are created.

        expected_kwargs : dict, default=None
            As in :meth:`plot`.

        **kwargs : dict
            As in :meth:`plot`: keywords for the observed lines.

        Returns
        -------
        display : CoverageDisplay
            The drawn display.
        """
        import_pyplot("CoverageDisplay.from_estimator")
        source = fitted(estimator, X)  # a Pipeline: in the space of its last step
        if source.X_array is None:
            raise ValueError("CoverageDisplay needs the samples X.")
        n_features = source.n_features
        if n_sigma is None:
            top = np.ceil(2 * coverage_to_sigma(0.9999, n_features)) / 2
            n_sigma = np.linspace(0, top, 121)
        else:
            n_sigma = np.asarray(n_sigma, dtype=np.float64).ravel()
        components = source.components(min_weight)
        distances = mahalanobis_distances(source.X, source.mixture)
        responsibilities = np.asarray(source.mixture.predict_proba(source.X))
        observed, effective_n = coverage_curves(
            distances[:, components], responsibilities[:, components], n_sigma
        )
        display = cls(
            n_sigma=n_sigma,
            observed=observed,
            expected=np.asarray(sigma_to_coverage(n_sigma, n_features)),
            effective_n=effective_n,
            components=components,
            weights=mixture_weights(source.mixture),
            n_features=n_features,
            xlabel=xlabel,
            ylabel=ylabel,
        )
        return display.plot(
            ax=ax, legend=legend, expected_kwargs=expected_kwargs, **kwargs
        )
