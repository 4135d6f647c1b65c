"""Displays of n-sigma ellipses, ellipsoids and coverage (matplotlib).

Every display follows scikit-learn's Display pattern
(:class:`sklearn.inspection.DecisionBoundaryDisplay`): ``from_estimator``
computes plain arrays (with :mod:`sklearn_nsigma._plot_geometry`) and builds
the display, whose ``plot`` method draws them, sets ``ax_``, ``figure_`` and
the artists, and returns the display. matplotlib is imported inside ``plot``
only, so the package works without it.
"""

import textwrap
from collections.abc import Sequence
from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike
from sklearn.pipeline import Pipeline
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from sklearn_nsigma._geometry import ellipsoid_params
from sklearn_nsigma._plot_geometry import (
    check_n_sigma_levels,
    coverage_curves,
    drawn_components,
    drawn_ellipsoids,
    ellipse_patch_params,
    ellipsoid_mesh,
    expected_coverage,
    fitted_mixture,
    mahalanobis_distances,
    marginal_params,
)

_INSTALL_HINT = 'pip install "sklearn-nsigma[plot]"'
_LINESTYLES = ("-", "--", ":", "-.")
_INLIER_COLOR = "0.6"
_OUTLIER_COLOR = "crimson"
_COLOR_BY = ("inside", "component", "none")

# Aliases matplotlib refuses to receive twice ("c" and "color", ...): a user
# keyword replaces every default of its group.
_ALIAS_GROUPS = (
    frozenset({"color", "c"}),
    frozenset({"linestyle", "ls", "linestyles"}),
    frozenset({"linewidth", "lw", "linewidths"}),
    frozenset({"edgecolor", "ec", "edgecolors"}),
    frozenset({"facecolor", "fc", "facecolors"}),
    frozenset({"marker"}),
    frozenset({"markersize", "ms", "s"}),
)


# Any of these set the face colour of scatter markers, replacing our ``c``.
_FACE_KEYS = frozenset({"c", "color", "facecolor", "facecolors", "fc"})


def _import_pyplot(caller: str):
    """Import pyplot, or explain how to install the ``plot`` extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs matplotlib, an optional dependency of "
            f"sklearn-nsigma. Install it with: {_INSTALL_HINT}"
        ) from exc
    return plt


def _merge_style(defaults: dict, user: dict | None) -> dict:
    """Defaults updated with the user's keywords, aliases resolved.

    A user keyword removes every default of its alias group (``c`` removes a
    default ``color``), so matplotlib never receives both spellings.
    """
    user = dict(user or {})
    merged = dict(defaults)
    for key in user:
        for group in _ALIAS_GROUPS:
            if key in group:
                for alias in group:
                    merged.pop(alias, None)
    merged.update(user)
    return merged


def _patch_style(defaults: dict, user: dict) -> dict:
    """As _merge_style, where ``color``/``c`` set the edge colour of a patch."""
    user = dict(user)
    for key in ("color", "c"):
        if key in user:
            user.setdefault("edgecolor", user.pop(key))
    return _merge_style(defaults, user)


def _component_color(k: int):
    """Colour of component ``k``: the same in every display."""
    import matplotlib as mpl

    return mpl.colormaps["tab10"](int(k) % 10)


def _check_color_by(color_by: str) -> None:
    if color_by not in _COLOR_BY:
        raise ValueError(f"color_by must be one of {_COLOR_BY}, got {color_by!r}.")


def _level_label(level: float) -> str:
    return f"{level:g}σ"


def _point_colors(color_by, inside, labels):
    if color_by == "component" and labels is not None:
        return [_component_color(k) for k in labels]
    if color_by == "inside" and inside is not None:
        return np.where(
            inside[:, np.newaxis], _rgba(_INLIER_COLOR), _rgba(_OUTLIER_COLOR)
        )
    return _INLIER_COLOR


def _rgba(color):
    import matplotlib as mpl

    return np.asarray(mpl.colors.to_rgba(color))


def _legend_handles(levels, color_by, has_points, components, weights):
    """Proxy artists for the levels, the point colours and the components."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D(
            [], [], color="0.25", linestyle=_LINESTYLES[i % 4], label=_level_label(n)
        )
        for i, n in enumerate(levels)
    ]
    if has_points and color_by == "inside":
        handles += [
            Line2D(
                [], [], color=_INLIER_COLOR, marker="o", linestyle="", label="inlier"
            ),
            Line2D(
                [], [], color=_OUTLIER_COLOR, marker="o", linestyle="", label="outlier"
            ),
        ]
    for k in components:
        label = f"component {k}"
        if weights is not None:
            label += f" (w={weights[k]:.2f})"
        handles.append(Line2D([], [], color=_component_color(k), label=label))
    return handles


class _Space:
    """The space a display draws in, and the names of its features.

    ``steps`` names the pipeline steps that transformed X before the last
    step (the mixture or detector) saw it; empty for a plain estimator.
    ``names`` are the feature names where known, else None.
    """

    def __init__(self, names, steps=()):
        self.names = names
        self.steps = tuple(steps)

    def labels(self, n_features: int) -> list[str]:
        """Axis labels: the names (or "feature i"), with the steps they went
        through."""
        names = self.names or [f"feature {i}" for i in range(n_features)]
        if not self.steps:
            return list(names)
        return [f"{name} (after {', '.join(self.steps)})" for name in names]


def _unpipe(estimator, X):
    """A Pipeline's last step, X as that step sees it, and the steps before it.

    A plain estimator and X are returned as they are, with no steps.
    """
    if not isinstance(estimator, Pipeline):
        return estimator, X, None
    check_is_fitted(estimator)
    head = estimator[:-1]
    if X is not None and len(head):
        X = head.transform(X)
    return estimator[-1], X, head


def _feature_space(X, estimator, mixture, head, n_features: int) -> _Space:
    """Names of the features drawn: X's columns, else the fitted names.

    For a pipeline, the names the steps before the last give out
    (``get_feature_names_out``) when they can.
    """
    steps = () if head is None else [name for name, _ in head.steps]
    candidates = []
    if head is not None and len(head):
        try:
            candidates.append(head.get_feature_names_out())
        except (AttributeError, TypeError, ValueError):
            pass
    candidates += [
        getattr(X, "columns", None),
        getattr(estimator, "feature_names_in_", None),
        getattr(mixture, "feature_names_in_", None),
    ]
    for names in candidates:
        if names is not None and len(names) == n_features:
            return _Space([str(name) for name in names], steps)
    return _Space(None, steps)


def _resolve_levels(n_sigma, detector) -> np.ndarray:
    """The levels to draw: ``n_sigma``, or its default.

    The default is (1, 2, 3) for a mixture and the detector's threshold for
    a detector.
    """
    if n_sigma is not None:
        return check_n_sigma_levels(n_sigma)
    if detector is not None:
        threshold = getattr(detector, "threshold_", None)
        if threshold is None and hasattr(detector, "offset_"):
            threshold = -detector.offset_
        if threshold is not None:
            return check_n_sigma_levels(float(threshold))
    return np.array([1.0, 2.0, 3.0])


def _mixture_weights(mixture) -> np.ndarray:
    n_components = np.asarray(mixture.means_).shape[0]
    weights = getattr(mixture, "weights_", None)
    if weights is None:
        return np.full(n_components, 1.0 / n_components)
    return np.asarray(weights, dtype=np.float64)


def _mixture_input(X, X_array, mixture):
    """X as the mixture was fitted: with feature names only if it had them."""
    return X if hasattr(mixture, "feature_names_in_") else X_array


def _points(mixture, detector, X, components, levels):
    """Data for the scatter: X as floats, inside flags and component labels.

    ``inside`` is the detector's ``predict(X) == 1`` for a detector, else
    whether the distance to some drawn component is at most the largest
    level. Both use every feature of ``X``.
    """
    if X is None:
        return None, None, None
    X_array = check_array(X, dtype=np.float64)
    n_features = np.asarray(mixture.means_).shape[1]
    if X_array.shape[1] != n_features:
        raise ValueError(
            f"X has {X_array.shape[1]} features, but the mixture was fitted on "
            f"{n_features}."
        )
    X_mixture = _mixture_input(X, X_array, mixture)
    if detector is not None:
        inside = np.asarray(detector.predict(X)) == 1
    else:
        distances = mahalanobis_distances(X_mixture, mixture)[:, components]
        inside = distances.min(axis=1) <= levels.max()
    labels = None
    if hasattr(mixture, "predict"):
        labels = np.asarray(mixture.predict(X_mixture))
    return X_array, inside, labels


def _prepare(estimator, X, n_sigma, min_weight):
    """What every ``from_estimator`` of the ellipse displays needs.

    A Pipeline is drawn in the space its last step sees: X goes through the
    steps before it.
    """
    estimator, X, head = _unpipe(estimator, X)
    mixture, detector = fitted_mixture(estimator)
    levels = _resolve_levels(n_sigma, detector)
    weights = _mixture_weights(mixture)
    components = drawn_components(mixture, detector, min_weight)
    X_array, inside, labels = _points(mixture, detector, X, components, levels)
    n_features = np.asarray(mixture.means_).shape[1]
    space = _feature_space(X, estimator, mixture, head, n_features)
    params = drawn_ellipsoids(mixture, detector)
    return mixture, levels, weights, components, X_array, inside, labels, space, params


def _check_features(
    features, n_features: int, count: int | None, display: str, names=None
) -> list[int]:
    """The indices of ``features``: ``count`` distinct integers in range, or
    names from ``names`` (None: any number of at least 2)."""
    what = f"{count}" if count is not None else "at least 2"
    expected = (
        f"features must be {what} distinct feature indices (integers in "
        f"[0, {n_features})) or feature names (from feature_names_in_)"
    )
    if features is None:
        if count is None:
            return list(range(n_features))
        if n_features != count:
            others = {
                2: "EllipsoidDisplay (3 features) or PairwiseEllipseDisplay",
                3: "EllipseDisplay (2 features) or PairwiseEllipseDisplay",
            }[count]
            raise ValueError(
                f"{display} draws {count}-D components but the mixture has "
                f"{n_features} features: pass features= to draw the marginal "
                f"of {count} of them, or use {others}."
            )
        return list(range(count))
    if isinstance(features, (str, bytes)) or not np.iterable(features):
        raise ValueError(f"{expected}, got {features!r}.")
    chosen = []
    for feature in list(features):
        if isinstance(feature, str):
            if names is None:
                raise ValueError(
                    f"{expected}, got the name {feature!r}, but the features "
                    "have no names (the estimator was fitted without column "
                    "names): pass integer indices."
                )
            if feature not in names:
                raise ValueError(
                    f"{expected}, got {feature!r}, which is not one of the "
                    f"feature names {list(names)}."
                )
            chosen.append(list(names).index(feature))
        elif isinstance(feature, Integral | np.integer) and not isinstance(
            feature, bool | np.bool_
        ):
            chosen.append(int(feature))
        else:
            raise ValueError(f"{expected}, got {feature!r} in {features!r}.")
    if (count is not None and len(chosen) != count) or len(set(chosen)) != len(chosen):
        raise ValueError(f"{expected}, got {features!r}.")
    if len(chosen) < 2:
        raise ValueError(f"{expected}, got {features!r}.")
    if min(chosen) < 0 or max(chosen) >= n_features:
        raise ValueError(
            f"features must be indices in [0, {n_features}), got {features!r}."
        )
    return chosen


def _scatter(ax, X, color_by, inside, labels, scatter_kwargs):
    defaults = {"s": 12, "linewidths": 0, "zorder": 1}
    user = scatter_kwargs or {}
    if not _FACE_KEYS & set(user):
        defaults["c"] = _point_colors(color_by, inside, labels)
    return ax.scatter(*X.T, **_merge_style(defaults, user))


def _centers(ax, centers, center_kwargs):
    defaults = {"marker": "+", "color": "black", "s": 80, "zorder": 3}
    return ax.scatter(*centers.T, **_merge_style(defaults, center_kwargs))


class EllipseDisplay:
    """Ellipses at n sigma around the components of a 2-D Gaussian mixture.

    Draws the ellipses of several Mahalanobis radii at once (1, 2 and 3 sigma
    by default), optionally with the data coloured by inside/outside or by
    component, and the component centres. For data with more than two
    features, ``from_estimator(..., features=(i, j))`` draws the marginal
    ellipses of two of them.

    It is recommended to use :meth:`from_estimator` to create the display.
    All parameters are stored as attributes.

    .. versionadded:: 0.2

    Parameters
    ----------
    centers : ndarray of shape (n_components, 2)
        Centres of the drawn components.

    radii : ndarray of shape (n_components, 2)
        1-sigma semi-axes (major, minor) of the drawn components.

    angles : ndarray of shape (n_components,)
        Major-axis angles in degrees, counter-clockwise from the x axis.

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

    xlabel, ylabel : str, default=None
        Axis labels.

    Attributes
    ----------
    ellipses_ : ndarray of matplotlib Ellipse of shape (n_levels, n_components)
        ``ellipses_[i, k]`` is the ``n_sigma[i]`` ellipse of the ``k``-th
        drawn component: width ``2 * n_sigma[i] * radii[k, 0]``, height
        ``2 * n_sigma[i] * radii[k, 1]``, angle ``angles[k]``.

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
    >>> display.ellipses_.shape
    (3, 2)
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    """

    def __init__(
        self,
        *,
        centers,
        radii,
        angles,
        n_sigma,
        components=None,
        weights=None,
        X=None,
        inside=None,
        labels=None,
        xlabel=None,
        ylabel=None,
    ):
        self.centers = centers
        self.radii = radii
        self.angles = angles
        self.n_sigma = n_sigma
        self.components = components
        self.weights = weights
        self.X = X
        self.inside = inside
        self.labels = labels
        self.xlabel = xlabel
        self.ylabel = ylabel

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
            Axes to draw on. If None, a new figure and axes are created.

        color_by : {'inside', 'component', 'none'}, default='inside'
            Point colours: inliers grey and outliers red, the colour of each
            point's component, or grey for all.

        show_centers : bool, default=True
            Whether to mark the component centres.

        legend : bool, default=True
            Whether to add a legend of the levels, the point colours and the
            components.

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
        plt = _import_pyplot("EllipseDisplay.plot")
        from matplotlib.patches import Ellipse

        _check_color_by(color_by)
        if ax is None:
            _, ax = plt.subplots()
        centers = np.asarray(self.centers)
        levels = check_n_sigma_levels(self.n_sigma)
        components = (
            np.arange(centers.shape[0])
            if self.components is None
            else np.asarray(self.components)
        )
        widths, heights, angles = ellipse_patch_params(self.radii, self.angles, levels)

        self.ellipses_ = np.empty(widths.shape, dtype=object)
        for i in range(widths.shape[0]):
            for k, component in enumerate(components):
                defaults = {
                    "facecolor": "none",
                    "edgecolor": _component_color(component),
                    "linestyle": _LINESTYLES[i % len(_LINESTYLES)],
                    "linewidth": 1.5,
                    "zorder": 2,
                }
                ellipse = Ellipse(
                    xy=centers[k],
                    width=widths[i, k],
                    height=heights[i, k],
                    angle=angles[i, k],
                    **_patch_style(defaults, kwargs),
                )
                ax.add_patch(ellipse)
                self.ellipses_[i, k] = ellipse

        self.scatter_ = None
        if self.X is not None:
            X = np.asarray(self.X)
            self.scatter_ = _scatter(
                ax, X, color_by, self.inside, self.labels, scatter_kwargs
            )
        self.centers_ = _centers(ax, centers, center_kwargs) if show_centers else None
        ax.autoscale_view()

        if self.xlabel is not None and not ax.get_xlabel():
            ax.set_xlabel(self.xlabel)
        if self.ylabel is not None and not ax.get_ylabel():
            ax.set_ylabel(self.ylabel)
        self.legend_ = None
        if legend:
            handles = _legend_handles(
                levels, color_by, self.X is not None, components, self.weights
            )
            self.legend_ = ax.legend(handles=handles, fontsize="small")

        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X: ArrayLike | None = None,
        *,
        n_sigma: float | ArrayLike | None = None,
        features: Sequence[int] | None = None,
        min_weight: float = 0.01,
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

        min_weight : float, default=0.01
            Components with a smaller weight are not drawn, nor, for a
            detector, those it does not use (``eligible_components_``). The
            heaviest component is always drawn.

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
        _import_pyplot("EllipseDisplay.from_estimator")
        prepared = _prepare(estimator, X, n_sigma, min_weight)
        (
            mixture,
            levels,
            weights,
            components,
            X_array,
            inside,
            labels,
            space,
            params,
        ) = prepared
        n_features = mixture.means_.shape[1]
        chosen = _check_features(features, n_features, 2, "EllipseDisplay", space.names)
        if chosen != [0, 1] or n_features != 2:
            params = marginal_params(params, chosen)
        names = space.labels(n_features)
        display = cls(
            centers=params.centers[components],
            radii=params.radii[components],
            angles=params.angles[components],
            n_sigma=levels,
            components=components,
            weights=weights,
            X=None if X_array is None else X_array[:, chosen],
            inside=inside,
            labels=labels,
            xlabel=names[chosen[0]] if xlabel is None else xlabel,
            ylabel=names[chosen[1]] if ylabel is None else ylabel,
        )
        return display.plot(
            ax=ax,
            color_by=color_by,
            show_centers=show_centers,
            legend=legend,
            scatter_kwargs=scatter_kwargs,
            center_kwargs=center_kwargs,
            **kwargs,
        )


class EllipsoidDisplay:
    """Ellipsoids at n sigma around the components of a 3-D Gaussian mixture.

    Draws each component's rotated ellipsoid for one or several Mahalanobis
    radii, as wireframes or translucent surfaces on a 3-D axes, optionally
    with the data and the component centres.

    It is recommended to use :meth:`from_estimator` to create the display.
    All parameters are stored as attributes.

    .. versionadded:: 0.2

    Parameters
    ----------
    centers : ndarray of shape (n_components, 3)
        Centres of the drawn components.

    radii : ndarray of shape (n_components, 3)
        1-sigma semi-axes of the drawn components.

    rotations : ndarray of shape (n_components, 3, 3)
        Rotations whose columns are the principal axes.

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

    xlabel, ylabel, zlabel : str, default=None
        Axis labels.

    Attributes
    ----------
    ellipsoids_ : ndarray of shape (n_levels, n_components)
        ``ellipsoids_[i, k]`` is the surface (``Poly3DCollection``) or
        wireframe (``Line3DCollection``) of the ``n_sigma[i]`` ellipsoid of
        the ``k``-th drawn component.

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

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_nsigma import EllipsoidDisplay, NSigmaGaussianMixture
    >>> X = np.random.RandomState(0).normal(size=(200, 3))
    >>> gmm = NSigmaGaussianMixture(random_state=0).fit(X)
    >>> display = EllipsoidDisplay.from_estimator(gmm, X, n_sigma=2)
    >>> display.ellipsoids_.shape, display.ax_.name
    ((1, 1), '3d')
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    """

    def __init__(
        self,
        *,
        centers,
        radii,
        rotations,
        n_sigma,
        components=None,
        weights=None,
        X=None,
        inside=None,
        labels=None,
        xlabel=None,
        ylabel=None,
        zlabel=None,
    ):
        self.centers = centers
        self.radii = radii
        self.rotations = rotations
        self.n_sigma = n_sigma
        self.components = components
        self.weights = weights
        self.X = X
        self.inside = inside
        self.labels = labels
        self.xlabel = xlabel
        self.ylabel = ylabel
        self.zlabel = zlabel

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
            Whether to add a legend.

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
        plt = _import_pyplot("EllipsoidDisplay.plot")
        if kind not in ("surface", "wireframe"):
            raise ValueError(f"kind must be 'surface' or 'wireframe', got {kind!r}.")
        _check_color_by(color_by)
        if ax is None:
            ax = plt.figure().add_subplot(projection="3d")
        elif getattr(ax, "name", None) != "3d":
            raise ValueError(
                "EllipsoidDisplay draws on a 3-D axes, got a "
                f"{getattr(ax, 'name', type(ax).__name__)!r} axes. Create one "
                "with fig.add_subplot(projection='3d'), or use EllipseDisplay "
                "for 2-D data."
            )
        centers = np.asarray(self.centers)
        radii = np.asarray(self.radii)
        rotations = np.asarray(self.rotations)
        levels = check_n_sigma_levels(self.n_sigma)
        components = (
            np.arange(centers.shape[0])
            if self.components is None
            else np.asarray(self.components)
        )
        self.ellipsoids_ = np.empty((levels.size, centers.shape[0]), dtype=object)
        for i, level in enumerate(levels):
            # Inner shells more opaque, so nested shells stay readable.
            alpha = 0.35 / (i + 1) if kind == "surface" else 0.6 / (i + 1) ** 0.5
            for k, component in enumerate(components):
                mesh = ellipsoid_mesh(
                    centers[k], radii[k], rotations[k], level, resolution
                )
                color = _component_color(component)
                if kind == "surface":
                    defaults = {"color": color, "alpha": alpha, "linewidth": 0}
                    artist = ax.plot_surface(*mesh, **_merge_style(defaults, kwargs))
                else:
                    defaults = {
                        "color": color,
                        "alpha": alpha,
                        "linewidth": 0.6,
                        "rstride": 2,
                        "cstride": 2,
                    }
                    artist = ax.plot_wireframe(*mesh, **_merge_style(defaults, kwargs))
                self.ellipsoids_[i, k] = artist

        self.scatter_ = None
        if self.X is not None:
            self.scatter_ = _scatter(
                ax,
                np.asarray(self.X),
                color_by,
                self.inside,
                self.labels,
                scatter_kwargs,
            )
        self.centers_ = _centers(ax, centers, center_kwargs) if show_centers else None
        for label, setter, getter in (
            (self.xlabel, ax.set_xlabel, ax.get_xlabel),
            (self.ylabel, ax.set_ylabel, ax.get_ylabel),
            (self.zlabel, ax.set_zlabel, ax.get_zlabel),
        ):
            if label is not None and not getter():
                setter(label)
        self.legend_ = None
        if legend:
            handles = _legend_handles(
                levels, color_by, self.X is not None, components, self.weights
            )
            if kind == "surface":
                # Shells differ by opacity, not line style.
                handles = handles[levels.size :]
            self.legend_ = ax.legend(handles=handles, fontsize="small")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X: ArrayLike | None = None,
        *,
        n_sigma: float | ArrayLike | None = None,
        features: Sequence[int] | None = None,
        min_weight: float = 0.01,
        kind: str = "surface",
        resolution: int = 24,
        color_by: str = "inside",
        show_centers: bool = True,
        legend: bool = True,
        ax=None,
        scatter_kwargs: dict | None = None,
        center_kwargs: dict | None = None,
        **kwargs,
    ) -> "EllipsoidDisplay":
        """Draw the n-sigma ellipsoids of a fitted 3-D mixture or detector.

        Parameters
        ----------
        estimator : estimator instance
            A fitted Gaussian mixture (``NSigmaGaussianMixture``,
            ``GaussianMixture``, ``BayesianGaussianMixture``) or an outlier
            detector wrapping one in ``estimator_``, or a fitted
            :class:`~sklearn.pipeline.Pipeline` whose last step is one of
            these (drawn in the space that step sees).

        X : array-like of shape (n_samples, n_features), default=None
            Points to draw.

        n_sigma : float or array-like of float, default=None
            Mahalanobis radii of the ellipsoids. None means (1, 2, 3) for a
            mixture and the detector's threshold (``threshold_``) for a
            detector.

        features : tuple of 3 int or 3 str, default=None
            Features to draw, for a mixture of more than three features (the
            marginal ellipsoids): three distinct indices or feature names, as
            in :meth:`EllipseDisplay.from_estimator`. None requires a
            3-feature mixture.

        min_weight : float, default=0.01
            Components with a smaller weight are not drawn, nor, for a
            detector, those it does not use (``eligible_components_``). The
            heaviest component is always drawn.

        kind : {'surface', 'wireframe'}, default='surface'
            How to draw the ellipsoids.

        resolution : int, default=24
            Grid lines of each mesh in each direction.

        color_by : {'inside', 'component', 'none'}, default='inside'
            Point colours, as in :meth:`EllipseDisplay.from_estimator`.

        show_centers : bool, default=True
            Whether to mark the component centres.

        legend : bool, default=True
            Whether to add a legend.

        ax : mpl_toolkits.mplot3d.Axes3D, default=None
            3-D axes to draw on. If None, a new figure and 3-D axes are
            created.

        scatter_kwargs, center_kwargs : dict, default=None
            Keywords for the scatter of the points and of the centres.

        **kwargs : dict
            Keywords for ``plot_surface`` or ``plot_wireframe``.

        Returns
        -------
        display : EllipsoidDisplay
            The drawn display.
        """
        _import_pyplot("EllipsoidDisplay.from_estimator")
        prepared = _prepare(estimator, X, n_sigma, min_weight)
        (
            mixture,
            levels,
            weights,
            components,
            X_array,
            inside,
            labels,
            space,
            params,
        ) = prepared
        n_features = mixture.means_.shape[1]
        chosen = _check_features(
            features, n_features, 3, "EllipsoidDisplay", space.names
        )
        if chosen != [0, 1, 2] or n_features != 3:
            params = marginal_params(params, chosen)
        names = space.labels(n_features)
        display = cls(
            centers=params.centers[components],
            radii=params.radii[components],
            rotations=params.rotations[components],
            n_sigma=levels,
            components=components,
            weights=weights,
            X=None if X_array is None else X_array[:, chosen],
            inside=inside,
            labels=labels,
            xlabel=names[chosen[0]],
            ylabel=names[chosen[1]],
            zlabel=names[chosen[2]],
        )
        return display.plot(
            ax=ax,
            kind=kind,
            resolution=resolution,
            color_by=color_by,
            show_centers=show_centers,
            legend=legend,
            scatter_kwargs=scatter_kwargs,
            center_kwargs=center_kwargs,
            **kwargs,
        )


class PairwiseEllipseDisplay:
    """Marginal n-sigma ellipses of every pair of features, in a grid.

    For data with more than three features, the panel of features ``(i, j)``
    shows the ellipses of the 2x2 sub-covariance of each component at the
    same radius: the shadows of the d-dimensional ellipsoids on that plane.
    A point inside every shadow may still be outside the ellipsoid, so point
    colours use the distance over all features.

    It is recommended to use :meth:`from_estimator` to create the display.
    All parameters are stored as attributes.

    .. versionadded:: 0.2

    Parameters
    ----------
    centers : ndarray of shape (n_components, n_features)
        Centres of the drawn components.

    covariances : ndarray of shape (n_components, n_features, n_features)
        Full covariances of the drawn components.

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

    feature_names : list of str, default=None
        Names of the features, for the axis labels.

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

    def __init__(
        self,
        *,
        centers,
        covariances,
        n_sigma,
        components=None,
        weights=None,
        X=None,
        inside=None,
        labels=None,
        feature_names=None,
        n_features=None,
    ):
        self.centers = centers
        self.covariances = covariances
        self.n_sigma = n_sigma
        self.components = components
        self.weights = weights
        self.X = X
        self.inside = inside
        self.labels = labels
        self.feature_names = feature_names
        self.n_features = n_features

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
        plt = _import_pyplot("PairwiseEllipseDisplay.plot")
        _check_color_by(color_by)
        centers = np.asarray(self.centers)
        covariances = np.asarray(self.covariances)
        n_features = centers.shape[1]
        if n_features < 2:
            raise ValueError(
                f"PairwiseEllipseDisplay needs at least 2 features, got {n_features}."
            )
        size = n_features - 1
        axes = self._grid(plt, ax, size)
        levels = check_n_sigma_levels(self.n_sigma)
        components = (
            np.arange(centers.shape[0])
            if self.components is None
            else np.asarray(self.components)
        )
        names = self.feature_names or [f"feature {i}" for i in range(n_features)]
        params = ellipsoid_params(centers, covariances, "full")
        X = None if self.X is None else np.asarray(self.X)

        self.displays_ = np.empty((size, size), dtype=object)
        for row in range(size):
            for col in range(size):
                panel = axes[row, col]
                i, j = col, row + 1
                if i >= j:
                    panel.set_axis_off()
                    continue
                marginal = marginal_params(params, [i, j])
                display = EllipseDisplay(
                    centers=marginal.centers,
                    radii=marginal.radii,
                    angles=marginal.angles,
                    n_sigma=levels,
                    components=components,
                    weights=self.weights,
                    X=None if X is None else X[:, [i, j]],
                    inside=self.inside,
                    labels=self.labels,
                    xlabel=names[i] if row == size - 1 else None,
                    ylabel=names[j] if col == 0 else None,
                )
                display.plot(
                    ax=panel,
                    color_by=color_by,
                    show_centers=show_centers,
                    legend=False,
                    scatter_kwargs=scatter_kwargs,
                    center_kwargs=center_kwargs,
                    **kwargs,
                )
                self.displays_[row, col] = display
                if row != size - 1:
                    panel.tick_params(labelbottom=False)
                if col != 0:
                    panel.tick_params(labelleft=False)

        figure = axes[0, 0].figure
        self.legend_ = None
        if legend:
            handles = _legend_handles(
                levels, color_by, X is not None, components, self.weights
            )
            if size >= 2:
                self.legend_ = axes[0, size - 1].legend(
                    handles=handles, loc="upper right", fontsize="small"
                )
            else:
                self.legend_ = axes[0, 0].legend(handles=handles, fontsize="small")
        self.note_ = None
        dimension = n_features if self.n_features is None else int(self.n_features)
        if note and dimension > 2:
            text = (
                f"Marginal ellipses of {dimension}-D components: inside a 2-D "
                f"projection does not imply inside in {dimension}-D. Point "
                f"colours use all {dimension} features."
            )
            if size >= 2:
                self.note_ = axes[0, size - 1].text(
                    1.0,
                    0.0,
                    textwrap.fill(text, 40),
                    transform=axes[0, size - 1].transAxes,
                    ha="right",
                    va="bottom",
                    fontsize="small",
                    style="italic",
                    in_layout=False,
                )
            else:
                self.note_ = figure.suptitle(text, fontsize="small", style="italic")
        self.axes_ = axes
        self.figure_ = figure
        return self

    @staticmethod
    def _grid(plt, ax, size):
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
                [
                    [figure.add_subplot(grid[r, c]) for c in range(size)]
                    for r in range(size)
                ]
            )
        axes = np.asarray(ax, dtype=object)
        if axes.shape != (size, size):
            raise ValueError(
                f"ax must be an array of shape ({size}, {size}) of axes for "
                f"{size + 1} features, got shape {axes.shape}."
            )
        return axes

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X: ArrayLike | None = None,
        *,
        n_sigma: float | ArrayLike | None = None,
        features: Sequence[int] | None = None,
        min_weight: float = 0.01,
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
            A fitted Gaussian mixture (``NSigmaGaussianMixture``,
            ``GaussianMixture``, ``BayesianGaussianMixture``) or an outlier
            detector wrapping one in ``estimator_``, or a fitted
            :class:`~sklearn.pipeline.Pipeline` whose last step is one of
            these (drawn in the space that step sees).

        X : array-like of shape (n_samples, n_features), default=None
            Points to draw.

        n_sigma : float or array-like of float, default=None
            Mahalanobis radii of the ellipses. None means (1, 2, 3) for a
            mixture and the detector's threshold (``threshold_``) for a
            detector.

        features : sequence of int or str, default=None
            Features to show (at least 2, distinct indices or feature names),
            in order. None shows them all.

        min_weight : float, default=0.01
            Components with a smaller weight are not drawn, nor, for a
            detector, those it does not use (``eligible_components_``). The
            heaviest component is always drawn.

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
            Keywords for the scatter of the points and of the centres.

        **kwargs : dict
            Keywords for every :class:`matplotlib.patches.Ellipse`.

        Returns
        -------
        display : PairwiseEllipseDisplay
            The drawn display.
        """
        _import_pyplot("PairwiseEllipseDisplay.from_estimator")
        prepared = _prepare(estimator, X, n_sigma, min_weight)
        (
            mixture,
            levels,
            weights,
            components,
            X_array,
            inside,
            labels,
            space,
            params,
        ) = prepared
        n_features = mixture.means_.shape[1]
        chosen = _check_features(
            features, n_features, None, "PairwiseEllipseDisplay", space.names
        )
        params = marginal_params(params, chosen)
        names = space.labels(n_features)
        display = cls(
            centers=params.centers[components],
            covariances=params.covariances()[components],
            n_sigma=levels,
            components=components,
            weights=weights,
            X=None if X_array is None else X_array[:, chosen],
            inside=inside,
            labels=labels,
            feature_names=[names[i] for i in chosen],
            n_features=n_features,
        )
        return display.plot(
            ax=ax,
            color_by=color_by,
            show_centers=show_centers,
            legend=legend,
            note=note,
            scatter_kwargs=scatter_kwargs,
            center_kwargs=center_kwargs,
            **kwargs,
        )


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

    .. versionadded:: 0.2

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
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
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

    def __init__(
        self,
        *,
        n_sigma,
        observed,
        expected,
        effective_n=None,
        components=None,
        weights=None,
        n_features=None,
    ):
        self.n_sigma = n_sigma
        self.observed = observed
        self.expected = expected
        self.effective_n = effective_n
        self.components = components
        self.weights = weights
        self.n_features = n_features

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
            Whether to add a legend.

        expected_kwargs : dict, default=None
            Keywords for the line of the chi-square expectation.

        **kwargs : dict
            Keywords for the observed line of every component.

        Returns
        -------
        display : CoverageDisplay
            The display, with its artists set.
        """
        plt = _import_pyplot("CoverageDisplay.plot")
        if ax is None:
            _, ax = plt.subplots()
        observed = np.atleast_2d(np.asarray(self.observed))
        n_sigma = np.asarray(self.n_sigma)
        components = (
            np.arange(observed.shape[0])
            if self.components is None
            else np.asarray(self.components)
        )
        expected_label = (
            "chi-square expectation"
            if self.n_features is None
            else f"chi2.cdf(n², {self.n_features})"
        )
        (self.expected_line_,) = ax.plot(
            n_sigma,
            self.expected,
            **_merge_style(
                {
                    "color": "black",
                    "linestyle": "--",
                    "linewidth": 2,
                    "label": expected_label,
                    "zorder": 3,
                },
                expected_kwargs,
            ),
        )
        self.lines_ = []
        for k, component in enumerate(components):
            label = f"component {component}"
            if self.weights is not None:
                label += f" (w={self.weights[component]:.2f})"
            if self.effective_n is not None:
                label += f", n≈{self.effective_n[k]:.0f}"
            defaults = {"color": _component_color(component), "label": label}
            (line,) = ax.plot(n_sigma, observed[k], **_merge_style(defaults, kwargs))
            self.lines_.append(line)
        ax.set_ylim(-0.02, 1.02)
        if not ax.get_xlabel():
            ax.set_xlabel("n (Mahalanobis radius, sigmas)")
        if not ax.get_ylabel():
            ax.set_ylabel("fraction within n sigma")
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
        min_weight: float = 0.01,
        legend: bool = True,
        ax=None,
        expected_kwargs: dict | None = None,
        **kwargs,
    ) -> "CoverageDisplay":
        """Draw the coverage diagnostic of a fitted mixture or detector.

        Parameters
        ----------
        estimator : estimator instance
            A fitted Gaussian mixture (``NSigmaGaussianMixture``,
            ``GaussianMixture``, ``BayesianGaussianMixture``) or an outlier
            detector wrapping one in ``estimator_``, or a fitted
            :class:`~sklearn.pipeline.Pipeline` whose last step is one of
            these (drawn in the space that step sees).

        X : array-like of shape (n_samples, n_features)
            Samples; each counts for component ``k`` with its responsibility
            ``predict_proba(X)[:, k]``.

        n_sigma : array-like of float, default=None
            Radii at which to evaluate the coverage. None means 121 points
            from 0 to the radius holding 99.99 % in ``n_features``
            dimensions.

        min_weight : float, default=0.01
            Components with a smaller weight are not drawn, nor, for a
            detector, those it does not use (``eligible_components_``). The
            heaviest component is always drawn.

        legend : bool, default=True
            Whether to add a legend.

        ax : matplotlib Axes, default=None
            Axes to draw on. If None, a new figure and axes are created.

        expected_kwargs : dict, default=None
            Keywords for the line of the chi-square expectation.

        **kwargs : dict
            Keywords for the observed line of every component.

        Returns
        -------
        display : CoverageDisplay
            The drawn display.
        """
        from sklearn_nsigma._coverage import coverage_to_sigma

        _import_pyplot("CoverageDisplay.from_estimator")
        # a Pipeline is diagnosed in the space its last step sees
        estimator, X, _ = _unpipe(estimator, X)
        mixture, detector = fitted_mixture(estimator)
        n_features = mixture.means_.shape[1]
        if n_sigma is None:
            top = np.ceil(2 * coverage_to_sigma(0.9999, n_features)) / 2
            n_sigma = np.linspace(0, top, 121)
        else:
            n_sigma = np.asarray(n_sigma, dtype=np.float64).ravel()
        weights = _mixture_weights(mixture)
        components = drawn_components(mixture, detector, min_weight)
        if X is None:
            raise ValueError("CoverageDisplay needs the samples X.")
        X_array = check_array(X, dtype=np.float64)
        X_mixture = _mixture_input(X, X_array, mixture)
        distances = mahalanobis_distances(X_mixture, mixture)
        responsibilities = np.asarray(mixture.predict_proba(X_mixture))
        observed, effective_n = coverage_curves(
            distances[:, components], responsibilities[:, components], n_sigma
        )
        display = cls(
            n_sigma=n_sigma,
            observed=observed,
            expected=expected_coverage(n_sigma, n_features),
            effective_n=effective_n,
            components=components,
            weights=weights,
            n_features=n_features,
        )
        return display.plot(
            ax=ax, legend=legend, expected_kwargs=expected_kwargs, **kwargs
        )
