"""EllipseDisplay: the n-sigma ellipses of a 2-D mixture, or of two features."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from sklearn_nsigma._plot._base import (
    LINESTYLES,
    ComponentsDisplay,
    PointStyle,
    component_color,
    import_pyplot,
    patch_style,
    set_axis_labels,
)
from sklearn_nsigma._validation import check_n_sigma


def ellipse_patch_params(
    radii: ArrayLike, angles: ArrayLike, n_sigma: float | ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Width, height and angle of every 2-D n-sigma ellipse.

    These are the arguments of :class:`matplotlib.patches.Ellipse`: full axis
    lengths ``2 * n * radii`` and the major-axis angle in degrees.

    Parameters
    ----------
    radii : array-like of shape (n_components, 2)
        1-sigma semi-axes (major, minor), as ``EllipsoidParams.radii``.

    angles : array-like of shape (n_components,)
        Major-axis angles in degrees, as ``EllipsoidParams.angles``.

    n_sigma : float or array-like of shape (n_levels,)
        Mahalanobis radii.

    Returns
    -------
    widths, heights, angles : ndarray of shape (n_levels, n_components)
        Major axis lengths ``2 * n_sigma[i] * radii[k, 0]``, minor axis
        lengths ``2 * n_sigma[i] * radii[k, 1]`` and major-axis angles in
        degrees (the same for every level).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nsigma._plot._ellipse import ellipse_patch_params
    >>> widths, heights, angles = ellipse_patch_params([[2.0, 1.0]], [0.0], [1, 3])
    >>> widths.ravel(), heights.ravel(), angles.ravel()
    (array([ 4., 12.]), array([2., 6.]), array([0., 0.]))
    """
    radii = np.asarray(radii, dtype=np.float64)
    angles = np.asarray(angles, dtype=np.float64)
    if radii.ndim != 2 or radii.shape[1] != 2 or angles.shape != radii.shape[:1]:
        raise ValueError(
            "Ellipses need radii of shape (n_components, 2) and angles of shape "
            f"(n_components,), got {radii.shape} and {angles.shape}."
        )
    levels = check_n_sigma(n_sigma, levels=True)[:, np.newaxis]
    widths = 2 * levels * radii[np.newaxis, :, 0]
    heights = 2 * levels * radii[np.newaxis, :, 1]
    return widths, heights, np.broadcast_to(angles, widths.shape).copy()


@dataclass(kw_only=True, repr=False, eq=False)
class EllipseDisplay(ComponentsDisplay):
    """Ellipses at n sigma around the components of a 2-D Gaussian mixture.

    Draws the ellipses of several Mahalanobis radii at once (1, 2 and 3 sigma
    by default), optionally with the data coloured by inside/outside or by
    component, and the component centres. For data with more than two
    features, ``from_estimator(..., features=(i, j))`` draws the marginal
    ellipses of two of them.

    It is recommended to use :meth:`from_estimator` to create the display.
    All parameters are stored as attributes.

    .. versionadded:: 0.1

    Parameters
    ----------
    centers : ndarray of shape (n_components, 2)
        Centres of the drawn components.

    n_sigma : ndarray of shape (n_levels,)
        Mahalanobis radii of the ellipses.

    components : ndarray of shape (n_components,), default=None
        Index of each drawn component in the mixture (for colours and
        labels). None means ``0, 1, ...``.

    weights : ndarray of shape (n_components_total,), default=None
        Weights of all components of the mixture, indexed by ``components``.

    X : ndarray of shape (n_samples, 2), default=None
        Points to draw.

    inside : ndarray of bool of shape (n_samples,), default=None
        Whether each point is an inlier (used by ``color_by='inside'``).

    labels : ndarray of int of shape (n_samples,), default=None
        Component of each point (used by ``color_by='component'``).

    radii : ndarray of shape (n_components, 2)
        1-sigma semi-axes (major, minor) of the drawn components.

    angles : ndarray of shape (n_components,)
        Major-axis angles in degrees, counter-clockwise from the x axis.

    xlabel, ylabel : str, default=None
        Axis labels.

    Attributes
    ----------
    ellipses_ : ndarray of matplotlib Ellipse of shape (n_levels, n_components)
        ``ellipses_[i, k]`` is the ``n_sigma[i]`` ellipse of the ``k``-th
        drawn component: width ``2 * n_sigma[i] * radii[k, 0]``, height
        ``2 * n_sigma[i] * radii[k, 1]``, angle ``angles[k]``; None where
        that is infinite (a detector's threshold radius beyond every double,
        whose ellipse holds the whole plane).

    scatter_ : matplotlib PathCollection or None
        The points, if ``X`` was given.

    centers_ : matplotlib PathCollection or None
        The component centres, if drawn.

    legend_ : matplotlib Legend or None
        The legend, if drawn.

    ax_ : matplotlib Axes
        Axes with the ellipses.

    figure_ : matplotlib Figure
        Figure containing the ellipses.

    See Also
    --------
    EllipsoidDisplay : The same in 3-D.
    PairwiseEllipseDisplay : Marginal ellipses of every pair of features.
    sklearn.inspection.DecisionBoundaryDisplay : Contours of any detector.

    Notes
    -----
    The mass of a 2-D Gaussian inside its n-sigma ellipse is
    ``chi2.cdf(n**2, 2)``: 39.3 %, 86.5 % and 98.9 % for 1, 2 and 3 sigma.
    A marginal ellipse (``features`` of data with more than two features) is
    the shadow of the ellipsoid of the same radius: a point inside it need
    not be inside the ellipsoid, and ``inside`` always uses every feature.

    With points, the axes frame the points and the centres, not the
    outermost ellipse (which, for a high threshold or a marginal of many
    features, can reach far beyond the data). The legend stands to the
    right of the axes, off the ellipses.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_nsigma import EllipseDisplay, NSigmaGaussianMixture
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(0, 1, (100, 2)), rng.normal(6, 1, (100, 2))])
    >>> gmm = NSigmaGaussianMixture(n_components=2, random_state=0).fit(X)
    >>> display = EllipseDisplay.from_estimator(gmm, X, n_sigma=(1, 2, 3))
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    >>> display.ellipses_.shape
    (3, 2)
    """

    dimension: ClassVar[int] = 2

    radii: ArrayLike
    angles: ArrayLike
    xlabel: str | None = None
    ylabel: str | None = None

    def plot(
        self,
        ax=None,
        *,
        color_by: str = "inside",
        show_centers: bool = True,
        legend: bool = True,
        scatter_kwargs: dict | None = None,
        center_kwargs: dict | None = None,
        **kwargs,
    ) -> "EllipseDisplay":
        """Draw the ellipses, and the points and centres.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on. If None, a new figure (with a constrained
            layout, which leaves room for the legend) and axes are created.

        color_by : {'inside', 'component', 'none'}, default='inside'
            Point colours: inliers grey and outliers red, the colour of each
            point's component, or grey for all.

        show_centers : bool, default=True
            Whether to mark the component centres.

        legend : bool, default=True
            Whether to add a legend of the levels, the point colours and the
            components, to the right of the axes. On axes of your own, a
            constrained layout (or ``bbox_inches="tight"`` when saving)
            keeps it in the figure.

        scatter_kwargs : dict, default=None
            Keywords for :meth:`matplotlib.axes.Axes.scatter` of the points.

        center_kwargs : dict, default=None
            Keywords for :meth:`matplotlib.axes.Axes.scatter` of the centres.

        **kwargs : dict
            Keywords for every :class:`matplotlib.patches.Ellipse`; they
            override the defaults (``color`` sets the edge colour).

        Returns
        -------
        display : EllipseDisplay
            The display, with its artists set.
        """
        plt = import_pyplot("EllipseDisplay.plot")
        style = PointStyle(
            color_by, show_centers, legend, scatter_kwargs, center_kwargs
        )
        if ax is None:
            _, ax = plt.subplots(layout="constrained")
        centers, levels, components = self._drawn()
        self.ellipses_ = self._add_ellipses(ax, centers, levels, components, kwargs)
        self._draw_points(ax, centers, style)
        if self.X is None:
            ax.autoscale_view()
        set_axis_labels(ax, (self.xlabel, self.ylabel))
        return self._finish(
            ax, style, self._legend_handles(levels, color_by, components)
        )

    def _add_ellipses(self, ax, centers, levels, components, kwargs):
        """One Ellipse patch per level and component, added to ``ax``."""
        from matplotlib.patches import Ellipse

        widths, heights, angles = ellipse_patch_params(self.radii, self.angles, levels)
        ellipses = np.empty(widths.shape, dtype=object)
        for (i, k), width in np.ndenumerate(widths):
            if not np.isfinite([width, heights[i, k]]).all():
                continue  # a threshold beyond every double: the whole plane
            defaults = {
                "facecolor": "none",
                "edgecolor": component_color(components[k]),
                "linestyle": LINESTYLES[i % len(LINESTYLES)],
                "linewidth": 1.5,
                "zorder": 2,
            }
            ellipses[i, k] = ax.add_patch(
                Ellipse(
                    xy=centers[k],
                    width=width,
                    height=heights[i, k],
                    angle=angles[i, k],
                    **patch_style(defaults, kwargs),
                )
            )
        return ellipses

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X: ArrayLike | None = None,
        *,
        n_sigma: float | ArrayLike | None = None,
        features: Sequence[int | str] | None = None,
        min_weight: float | str = "auto",
        color_by: str = "inside",
        show_centers: bool = True,
        legend: bool = True,
        xlabel: str | None = None,
        ylabel: str | None = None,
        ax=None,
        scatter_kwargs: dict | None = None,
        center_kwargs: dict | None = None,
        **kwargs,
    ) -> "EllipseDisplay":
        """Draw the n-sigma ellipses of a fitted mixture or detector.

        Parameters
        ----------
        estimator : estimator instance
            A fitted :class:`~sklearn_nsigma.NSigmaGaussianMixture`,
            :class:`~sklearn.mixture.GaussianMixture`,
            :class:`~sklearn.mixture.BayesianGaussianMixture`, or an outlier
            detector wrapping one in ``estimator_`` (``NSigmaOutlierDetector``),
            or a fitted :class:`~sklearn.pipeline.Pipeline` whose last step
            is one of these: the display is then drawn in the space that
            step sees (``X`` goes through the steps before it, and the axis
            labels name them).

        X : array-like of shape (n_samples, n_features), default=None
            Points to draw, with all the features the mixture was fitted on.

        n_sigma : float or array-like of float, default=None
            Mahalanobis radii of the ellipses. None means (1, 2, 3) for a
            mixture and the detector's threshold (``threshold_``) for a
            detector.

        features : tuple of 2 int or 2 str, default=None
            Features to draw, for a mixture of more than two features: the
            ellipses are then the marginal ellipses of these two features.
            Two distinct indices in ``[0, n_features)``, or two names from
            the feature names (``feature_names_in_`` or the columns of
            ``X``). None requires a 2-feature mixture.

        min_weight : float in [0, 1] or 'auto', default='auto'
            Components with a smaller weight are not drawn, nor, for a
            detector, those it does not use (``eligible_components_``). The
            heaviest component is always drawn. 'auto' is the detector's
            rule: for a detector, its own ``min_weight_`` (the components it
            uses); for a mixture, which does not keep its number of training
            samples, ``max(0.05, (n_features + 2) / n_samples)`` with
            ``n_samples`` the rows of ``X`` (0.05 without ``X``).

        color_by : {'inside', 'component', 'none'}, default='inside'
            Point colours. Inside means ``predict(X) == 1`` for a detector,
            and within the largest ``n_sigma`` of a drawn component (over
            every feature) for a mixture.

        show_centers : bool, default=True
            Whether to mark the component centres.

        legend : bool, default=True
            Whether to add a legend.

        xlabel, ylabel : str, default=None
            Axis labels; default to the feature names.

        ax : matplotlib Axes, default=None
            Axes to draw on. If None, a new figure and axes are created.

        scatter_kwargs, center_kwargs : dict, default=None
            Keywords for the scatter of the points and of the centres.

        **kwargs : dict
            Keywords for every :class:`matplotlib.patches.Ellipse`.

        Returns
        -------
        display : EllipseDisplay
            The drawn display.
        """
        drawn = cls._prepare(estimator, X, n_sigma, min_weight, features)
        params = drawn.ellipsoids()
        xlabel, ylabel = drawn.axis_labels((xlabel, ylabel))
        display = cls(
            radii=params.radii,
            angles=params.angles,
            xlabel=xlabel,
            ylabel=ylabel,
            **drawn.points(),
        )
        style = PointStyle(
            color_by, show_centers, legend, scatter_kwargs, center_kwargs
        )
        return display.plot(ax=ax, **style.options(), **kwargs)
