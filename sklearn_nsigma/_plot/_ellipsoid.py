"""EllipsoidDisplay: the n-sigma ellipsoids of a 3-D mixture, or of three
features."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from sklearn_nsigma._geometry import ellipsoid_mesh
from sklearn_nsigma._plot._base import (
    ComponentsDisplay,
    PointStyle,
    component_color,
    import_pyplot,
    merge_style,
    set_axis_labels,
)

_KINDS = ("surface", "wireframe")
# The most opaque surface: points show through, and are drawn on top anyway.
_SURFACE_ALPHA = 0.2


def _axes_3d(plt, ax):
    """``ax``, checked to be a 3-D axes; a new one in a new figure if None."""
    if ax is None:
        # Wider than the default: the legend stands to the right, and the
        # scene is zoomed out to leave room for the axis labels, which the
        # layout does not see in 3-D.
        figure = plt.figure(figsize=(8.0, 5.5), layout="constrained")
        ax = figure.add_subplot(projection="3d")
        ax.set_box_aspect(None, zoom=0.85)
        return ax
    if getattr(ax, "name", None) != "3d":
        raise ValueError(
            "EllipsoidDisplay draws on a 3-D axes, got a "
            f"{getattr(ax, 'name', type(ax).__name__)!r} axes. Create one "
            "with fig.add_subplot(projection='3d'), or use EllipseDisplay "
            "for 2-D data."
        )
    return ax


def _shell_style(kind: str, level_index: int, color) -> dict:
    """Default style of one shell: inner shells more opaque, so nested shells
    stay readable."""
    if kind == "surface":
        alpha = _SURFACE_ALPHA / (level_index + 1)
        return {"color": color, "alpha": alpha, "linewidth": 0, "zorder": 1}
    return {
        "color": color,
        "alpha": 0.6 / (level_index + 1) ** 0.5,
        "linewidth": 0.6,
        "rstride": 2,
        "cstride": 2,
        "zorder": 1,
    }


@dataclass(kw_only=True, repr=False, eq=False)
class EllipsoidDisplay(ComponentsDisplay):
    """Ellipsoids at n sigma around the components of a 3-D Gaussian mixture.

    Draws each component's rotated ellipsoid for one or several Mahalanobis
    radii, as wireframes or translucent surfaces on a 3-D axes, optionally
    with the data and the component centres.

    It is recommended to use :meth:`from_estimator` to create the display.
    All parameters are stored as attributes.

    .. versionadded:: 0.1

    Parameters
    ----------
    centers : ndarray of shape (n_components, 3)
        Centres of the drawn components.

    n_sigma : ndarray of shape (n_levels,)
        Mahalanobis radii of the ellipsoids.

    components : ndarray of shape (n_components,), default=None
        Index of each drawn component in the mixture.

    weights : ndarray of shape (n_components_total,), default=None
        Weights of all components, indexed by ``components``.

    X : ndarray of shape (n_samples, 3), default=None
        Points to draw.

    inside : ndarray of bool of shape (n_samples,), default=None
        Whether each point is an inlier.

    labels : ndarray of int of shape (n_samples,), default=None
        Component of each point.

    radii : ndarray of shape (n_components, 3)
        1-sigma semi-axes of the drawn components.

    rotations : ndarray of shape (n_components, 3, 3)
        Rotations whose columns are the principal axes.

    xlabel, ylabel, zlabel : str, default=None
        Axis labels.

    Attributes
    ----------
    ellipsoids_ : ndarray of shape (n_levels, n_components)
        ``ellipsoids_[i, k]`` is the surface (``Poly3DCollection``) or
        wireframe (``Line3DCollection``) of the ``n_sigma[i]`` ellipsoid of
        the ``k``-th drawn component; None where it is infinite (a
        detector's threshold radius beyond every double).

    scatter_ : matplotlib PathCollection or None
        The points, if ``X`` was given.

    centers_ : matplotlib PathCollection or None
        The component centres, if drawn.

    legend_ : matplotlib Legend or None
        The legend, if drawn.

    ax_ : mpl_toolkits.mplot3d.Axes3D
        3-D axes with the ellipsoids.

    figure_ : matplotlib Figure
        Figure containing the ellipsoids.

    See Also
    --------
    EllipseDisplay : The same in 2-D.
    PairwiseEllipseDisplay : Marginal ellipses of every pair of features.

    Notes
    -----
    The mass of a 3-D Gaussian inside its n-sigma ellipsoid is
    ``chi2.cdf(n**2, 3)``: 19.9 %, 73.9 % and 97.1 % for 1, 2 and 3 sigma.

    The points stay visible through the surfaces: the axes draw in the order
    of ``zorder`` (``computed_zorder = False``), points above the shells,
    and the scatter is not depth-shaded. With points, the axes frame the
    points and the centres, not the outermost ellipsoid.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from sklearn_nsigma import EllipsoidDisplay, NSigmaGaussianMixture
    >>> X = np.random.RandomState(0).normal(size=(200, 3))
    >>> gmm = NSigmaGaussianMixture(random_state=0).fit(X)
    >>> display = EllipsoidDisplay.from_estimator(gmm, X, n_sigma=2)
    >>> plt.close(display.figure_)
    >>> display.ellipsoids_.shape, display.ax_.name
    ((1, 1), '3d')
    """

    dimension: ClassVar[int] = 3

    radii: ArrayLike
    rotations: ArrayLike
    xlabel: str | None = None
    ylabel: str | None = None
    zlabel: str | None = None

    def plot(
        self,
        ax=None,
        *,
        kind: str = "surface",
        resolution: int = 24,
        color_by: str = "inside",
        show_centers: bool = True,
        legend: bool = True,
        scatter_kwargs: dict | None = None,
        center_kwargs: dict | None = None,
        **kwargs,
    ) -> "EllipsoidDisplay":
        """Draw the ellipsoids, and the points and centres, on a 3-D axes.

        Parameters
        ----------
        ax : mpl_toolkits.mplot3d.Axes3D, default=None
            3-D axes to draw on (``fig.add_subplot(projection="3d")``). If
            None, a new figure and 3-D axes are created.

        kind : {'surface', 'wireframe'}, default='surface'
            Translucent surfaces (``plot_surface``) or wireframes
            (``plot_wireframe``).

        resolution : int, default=24
            Grid lines of each ellipsoid mesh in each direction.

        color_by : {'inside', 'component', 'none'}, default='inside'
            Point colours.

        show_centers : bool, default=True
            Whether to mark the component centres.

        legend : bool, default=True
            Whether to add a legend, to the right of the axes (as in
            :meth:`EllipseDisplay.plot`).

        scatter_kwargs, center_kwargs : dict, default=None
            Keywords for the scatter of the points and of the centres.

        **kwargs : dict
            Keywords for ``plot_surface`` or ``plot_wireframe``; they
            override the defaults.

        Returns
        -------
        display : EllipsoidDisplay
            The display, with its artists set.

        Raises
        ------
        ValueError
            If ``ax`` is not a 3-D axes.
        """
        plt = import_pyplot("EllipsoidDisplay.plot")
        if kind not in _KINDS:
            raise ValueError(f"kind must be 'surface' or 'wireframe', got {kind!r}.")
        scatter_kwargs = {"depthshade": False, **(scatter_kwargs or {})}
        style = PointStyle(
            color_by, show_centers, legend, scatter_kwargs, center_kwargs
        )
        ax = _axes_3d(plt, ax)
        centers, levels, components = self._drawn()
        self.ellipsoids_ = self._add_shells(
            ax, (centers, levels, components), kind, resolution, kwargs
        )
        # Draw by zorder, not by depth: the points on top of the shells.
        ax.computed_zorder = False
        self._draw_points(ax, centers, style, zorder=2)
        set_axis_labels(ax, (self.xlabel, self.ylabel, self.zlabel))
        handles = self._legend_handles(levels, color_by, components)
        # Surfaces differ by opacity, not line style: no level entries.
        return self._finish(
            ax, style, handles[levels.size if kind == "surface" else 0 :]
        )

    def _add_shells(self, ax, drawn, kind, resolution, kwargs):
        """One surface or wireframe per level and component, on ``ax``."""
        centers, levels, components = drawn
        radii = np.asarray(self.radii)
        rotations = np.asarray(self.rotations)
        draw = ax.plot_surface if kind == "surface" else ax.plot_wireframe
        shells = np.empty((levels.size, centers.shape[0]), dtype=object)
        for (i, k), _ in np.ndenumerate(shells):
            if not np.isfinite(radii[k]).all():
                continue  # a threshold beyond every double: the whole space
            mesh = ellipsoid_mesh(
                centers[k], radii[k], rotations[k], levels[i], resolution
            )
            defaults = _shell_style(kind, i, component_color(components[k]))
            shells[i, k] = draw(*mesh, **merge_style(defaults, kwargs))
        return shells

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X: ArrayLike | None = None,
        *,
        n_sigma: float | ArrayLike | None = None,
        features: Sequence[int | str] | None = None,
        kind: str = "surface",
        resolution: int = 24,
        min_weight: float | str = "auto",
        color_by: str = "inside",
        show_centers: bool = True,
        legend: bool = True,
        xlabel: str | None = None,
        ylabel: str | None = None,
        zlabel: str | None = None,
        ax=None,
        scatter_kwargs: dict | None = None,
        center_kwargs: dict | None = None,
        **kwargs,
    ) -> "EllipsoidDisplay":
        """Draw the n-sigma ellipsoids of a fitted 3-D mixture or detector.

        Parameters
        ----------
        estimator : estimator instance
            A fitted 3-D mixture, a detector around one, or a Pipeline
            ending in either (see :meth:`EllipseDisplay.from_estimator`).

        X : array-like of shape (n_samples, n_features), default=None
            Points to draw.

        n_sigma : float or array-like of float, default=None
            Mahalanobis radii of the ellipsoids: (1, 2, 3) for a mixture and
            the detector's ``threshold_`` for a detector, when None.

        features : tuple of 3 int or 3 str, default=None
            Features to draw, for a mixture of more than three features (the
            marginal ellipsoids): three distinct indices or feature names, as
            in :meth:`EllipseDisplay.from_estimator`. None requires a
            3-feature mixture.

        kind : {'surface', 'wireframe'}, default='surface'
            How to draw the ellipsoids.

        resolution : int, default=24
            Grid lines of each mesh in each direction.

        min_weight : float in [0, 1] or 'auto', default='auto'
            Components lighter than this are left out ('auto': those the
            detector leaves out, or as in
            :meth:`EllipseDisplay.from_estimator`).

        color_by : {'inside', 'component', 'none'}, default='inside'
            Point colours, as in :meth:`EllipseDisplay.from_estimator`.

        show_centers : bool, default=True
            Whether to mark the component centres.

        legend : bool, default=True
            Whether to add a legend.

        xlabel, ylabel, zlabel : str, default=None
            Axis labels; default to the feature names.

        ax : mpl_toolkits.mplot3d.Axes3D, default=None
            3-D axes to draw on. If None, a new figure and 3-D axes are
            created.

        scatter_kwargs, center_kwargs : dict, default=None
            Given to :meth:`plot`.

        **kwargs : dict
            Given to :meth:`plot`, for the shells.

        Returns
        -------
        display : EllipsoidDisplay
            The drawn display.
        """
        drawn = cls._prepare(estimator, X, n_sigma, min_weight, features)
        params = drawn.ellipsoids()
        labels = drawn.axis_labels((xlabel, ylabel, zlabel))
        display = cls(
            radii=params.radii,
            rotations=params.rotations,
            xlabel=labels[0],
            ylabel=labels[1],
            zlabel=labels[2],
            **drawn.points(),
        )
        style = PointStyle(
            color_by, show_centers, legend, scatter_kwargs, center_kwargs
        )
        shells = {"kind": kind, "resolution": resolution}
        return display.plot(ax=ax, **shells, **style.options(), **kwargs)
