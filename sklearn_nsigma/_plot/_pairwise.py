"""PairwiseEllipseDisplay: the marginal n-sigma ellipses of every pair of
features, in a lower-triangle grid."""

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from sklearn_nsigma._geometry import ellipsoid_params
from sklearn_nsigma._plot._base import (
    ComponentsDisplay,
    PointStyle,
    import_pyplot,
    legend_beside,
)
from sklearn_nsigma._plot._ellipse import EllipseDisplay


def _grid(plt, ax, size: int) -> np.ndarray:
    """A (size, size) array of axes: new, carved out of ``ax``, or ``ax``."""
    if ax is None:
        _, axes = plt.subplots(
            size,
            size,
            figsize=(2.6 * size + 1, 2.6 * size + 0.6),
            squeeze=False,
            constrained_layout=True,
        )
        return axes
    if hasattr(ax, "get_subplotspec"):
        spec = ax.get_subplotspec()
        figure = ax.figure
        ax.remove()
        grid = spec.subgridspec(size, size)
        return np.array(
            [[figure.add_subplot(grid[r, c]) for c in range(size)] for r in range(size)]
        )
    axes = np.asarray(ax, dtype=object)
    if axes.shape != (size, size):
        raise ValueError(
            f"ax must be an array of shape ({size}, {size}) of axes for "
            f"{size + 1} features, got shape {axes.shape}."
        )
    return axes


def _corner_legend(axes: np.ndarray, handles):
    """The legend in the grid's empty upper-right panel, or beside the only
    panel."""
    if axes.shape[0] < 2:
        return legend_beside(axes[0, 0], handles)
    return axes[0, -1].legend(handles=handles, loc="upper right", fontsize="small")


def _note(axes: np.ndarray, dimension: int):
    """The note that a 2-D projection does not decide membership."""
    text = (
        f"Marginal ellipses of {dimension}-D components: inside a 2-D "
        f"projection does not imply inside in {dimension}-D. Point "
        f"colours use all {dimension} features."
    )
    size = axes.shape[0]
    if size < 3:  # no empty panel but the legend's
        return axes[0, 0].figure.suptitle(text, fontsize="small", style="italic")
    # The lowest empty panel of the last column: below the legend.
    corner = axes[size - 2, size - 1]
    return corner.text(
        1.0,
        0.0,
        textwrap.fill(text, 40),
        transform=corner.transAxes,
        ha="right",
        va="bottom",
        fontsize="small",
        style="italic",
        in_layout=False,
    )


@dataclass(kw_only=True, repr=False, eq=False)
class PairwiseEllipseDisplay(ComponentsDisplay):
    """Marginal n-sigma ellipses of every pair of features, in a grid.

    For data with more than three features, the panel of features ``(i, j)``
    shows the ellipses of the 2x2 sub-covariance of each component at the
    same radius: the shadows of the d-dimensional ellipsoids on that plane.
    A point inside every shadow may still be outside the ellipsoid, so point
    colours use the distance over all features.

    It is recommended to use :meth:`from_estimator` to create the display.
    All parameters are stored as attributes.

    .. versionadded:: 0.1

    Parameters
    ----------
    centers : ndarray of shape (n_components, n_features)
        Centres of the drawn components.

    n_sigma : ndarray of shape (n_levels,)
        Mahalanobis radii of the ellipses.

    components : ndarray of shape (n_components,), default=None
        Index of each drawn component in the mixture.

    weights : ndarray of shape (n_components_total,), default=None
        Weights of all components, indexed by ``components``.

    X : ndarray of shape (n_samples, n_features), default=None
        Points to draw.

    inside : ndarray of bool of shape (n_samples,), default=None
        Whether each point is an inlier, over all features.

    labels : ndarray of int of shape (n_samples,), default=None
        Component of each point.

    covariances : ndarray of shape (n_components, n_features, n_features)
        Full covariances of the drawn components.

    feature_names : list of str, default=None
        Names of the features, for the axis labels: the x labels of the
        bottom row and the y labels of the first column. None means
        ``"feature i"``.

    n_features : int, default=None
        Dimension of the mixture, when the grid shows some of its features
        only (for the note). None means the number of features drawn.

    Attributes
    ----------
    displays_ : ndarray of EllipseDisplay of shape (n_features - 1, n_features - 1)
        ``displays_[j - 1, i]`` (``i < j``) is the panel of feature ``i``
        (x) against feature ``j`` (y); None above the diagonal.

    axes_ : ndarray of matplotlib Axes of shape (n_features - 1, n_features - 1)
        The grid; the axes above the diagonal are turned off.

    legend_ : matplotlib Legend or None
        The legend, if drawn.

    note_ : matplotlib Text or None
        The note that a projection does not decide membership.

    figure_ : matplotlib Figure
        Figure containing the grid.

    See Also
    --------
    EllipseDisplay : One pair of features.
    EllipsoidDisplay : Three features, in 3-D.

    Notes
    -----
    Each panel's ellipses come straight from the 2x2 sub-covariance of its
    pair of features. With points, each panel frames the points and the
    centres, not the outermost ellipse: for many features, the ellipses of
    a detector's threshold (often 5 to 10 sigma) reach far beyond the data
    of any projection. The legend sits in the empty upper-right corner of
    the grid (to the right of the only panel for two features).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_nsigma import NSigmaGaussianMixture, PairwiseEllipseDisplay
    >>> X = load_iris().data
    >>> gmm = NSigmaGaussianMixture(n_components=3, random_state=0).fit(X)
    >>> display = PairwiseEllipseDisplay.from_estimator(gmm, X)
    >>> display.axes_.shape
    (3, 3)
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    """

    covariances: ArrayLike
    feature_names: list[str] | None = None
    n_features: int | None = None

    def plot(
        self,
        ax=None,
        *,
        color_by: str = "inside",
        show_centers: bool = True,
        legend: bool = True,
        note: bool = True,
        scatter_kwargs: dict | None = None,
        center_kwargs: dict | None = None,
        **kwargs,
    ) -> "PairwiseEllipseDisplay":
        """Draw the grid of marginal ellipses.

        Parameters
        ----------
        ax : ndarray of matplotlib Axes or matplotlib Axes, default=None
            An array of shape (n_features - 1, n_features - 1) of axes, or
            one axes whose area is divided into the grid. If None, a new
            figure is created.

        color_by : {'inside', 'component', 'none'}, default='inside'
            Point colours.

        show_centers : bool, default=True
            Whether to mark the component centres.

        legend : bool, default=True
            Whether to add a legend (in the empty corner of the grid).

        note : bool, default=True
            Whether to add the note that a projection does not decide
            membership in the full dimension.

        scatter_kwargs, center_kwargs : dict, default=None
            Keywords for the scatter of the points and of the centres.

        **kwargs : dict
            Keywords for every :class:`matplotlib.patches.Ellipse`.

        Returns
        -------
        display : PairwiseEllipseDisplay
            The display, with its artists set.
        """
        plt = import_pyplot("PairwiseEllipseDisplay.plot")
        style = PointStyle(
            color_by, show_centers, legend, scatter_kwargs, center_kwargs
        )
        n_features = np.asarray(self.centers).shape[1]
        if n_features < 2:
            raise ValueError(
                f"PairwiseEllipseDisplay needs at least 2 features, got {n_features}."
            )
        axes = _grid(plt, ax, n_features - 1)
        panel_options = style.options(legend=False) | kwargs
        self.displays_ = np.empty(axes.shape, dtype=object)
        for (row, col), panel in np.ndenumerate(axes):
            if col > row:
                panel.set_axis_off()
            else:
                self.displays_[row, col] = self._panel(panel, row, col, panel_options)
        _, levels, components = self._drawn()
        self.legend_ = None
        if legend:
            self.legend_ = _corner_legend(
                axes, self._legend_handles(levels, color_by, components)
            )
        dimension = n_features if self.n_features is None else int(self.n_features)
        self.note_ = _note(axes, dimension) if note and dimension > 2 else None
        self.axes_ = axes
        self.figure_ = axes[0, 0].figure
        return self

    def _panel(self, panel, row: int, col: int, options: dict) -> EllipseDisplay:
        """The EllipseDisplay of feature ``col`` (x) against ``row + 1`` (y),
        from the 2x2 sub-covariances."""
        pair = [col, row + 1]
        centers = np.asarray(self.centers)[:, pair]
        covariances = np.asarray(self.covariances)[:, pair][:, :, pair]
        marginal = ellipsoid_params(centers, covariances, "full")
        n_features = np.asarray(self.centers).shape[1]
        names = self.feature_names or [f"feature {i}" for i in range(n_features)]
        last_row = row == n_features - 2
        # What the panel shares with the grid: levels, components, colours.
        shared = ("n_sigma", "components", "weights", "inside", "labels")
        display = EllipseDisplay(
            centers=centers,
            radii=marginal.radii,
            angles=marginal.angles,
            X=None if self.X is None else np.asarray(self.X)[:, pair],
            xlabel=names[pair[0]] if last_row else None,
            ylabel=names[pair[1]] if col == 0 else None,
            **{name: getattr(self, name) for name in shared},
        )
        display.plot(ax=panel, **options)
        panel.tick_params(labelbottom=last_row, labelleft=col == 0)
        return display

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X: ArrayLike | None = None,
        *,
        n_sigma: float | ArrayLike | None = None,
        features: Sequence[int | str] | None = None,
        feature_names: Sequence[str] | None = None,
        min_weight: float | str = "auto",
        color_by: str = "inside",
        show_centers: bool = True,
        legend: bool = True,
        note: bool = True,
        ax=None,
        scatter_kwargs: dict | None = None,
        center_kwargs: dict | None = None,
        **kwargs,
    ) -> "PairwiseEllipseDisplay":
        """Draw the marginal ellipses of a fitted mixture or detector.

        Parameters
        ----------
        estimator : estimator instance
            What :meth:`EllipseDisplay.from_estimator` takes, of any
            dimension.

        X : array-like of shape (n_samples, n_features), default=None
            Points to draw.

        n_sigma : float or array-like of float, default=None
            Radii of the ellipses; by default as in
            :meth:`EllipseDisplay.from_estimator`.

        features : sequence of int or str, default=None
            Features to show (at least 2, distinct indices or feature names),
            in order. None shows them all.

        feature_names : sequence of str, default=None
            Axis labels of the features shown, one per feature, in the order
            of ``features``. None means the feature names
            (``feature_names_in_`` or the columns of ``X``), else
            ``"feature i"``.

        min_weight : float in [0, 1] or 'auto', default='auto'
            The lightest component drawn: see
            :meth:`EllipseDisplay.from_estimator`.

        color_by : {'inside', 'component', 'none'}, default='inside'
            Point colours; inside/outside is decided over all features.

        show_centers : bool, default=True
            Whether to mark the component centres.

        legend : bool, default=True
            Whether to add a legend.

        note : bool, default=True
            Whether to add the note that a projection does not decide
            membership.

        ax : ndarray of matplotlib Axes or matplotlib Axes, default=None
            Where to draw, as in :meth:`plot`.

        scatter_kwargs, center_kwargs : dict, default=None
            Passed to :meth:`plot`.

        **kwargs : dict
            Passed to :meth:`plot`, for the ellipses.

        Returns
        -------
        display : PairwiseEllipseDisplay
            The drawn display.
        """
        drawn = cls._prepare(estimator, X, n_sigma, min_weight, features)
        if feature_names is not None and len(feature_names) != len(drawn.features):
            raise ValueError(
                f"feature_names must name the {len(drawn.features)} features "
                f"shown, got {len(feature_names)}: {list(feature_names)!r}."
            )
        display = cls(
            covariances=drawn.covariances(),
            feature_names=drawn.labels if feature_names is None else feature_names,
            n_features=drawn.source.n_features,
            **drawn.points(),
        )
        style = PointStyle(
            color_by, show_centers, legend, scatter_kwargs, center_kwargs
        )
        return display.plot(ax=ax, note=note, **style.options(), **kwargs)
