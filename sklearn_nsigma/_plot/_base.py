"""What the displays share: pyplot, styles, colours, points, centres, legend.

matplotlib is imported inside the functions that draw, never at import time,
so the package works without it.
"""

from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from sklearn_nsigma._compat import _validate_style_kwargs, check_matplotlib_support
from sklearn_nsigma._plot._inputs import Drawn, prepare
from sklearn_nsigma._validation import check_n_sigma

_INSTALL_HINT = 'pip install "sklearn-nsigma[plot]"'
LINESTYLES = ("-", "--", ":", "-.")
_INLIER_COLOR = "0.6"
_OUTLIER_COLOR = "crimson"
_COLOR_BY = ("inside", "component", "none")
# Relative margin around the points when the axes frame them.
_MARGIN = 0.05

# The plural spellings of matplotlib collections, which scikit-learn's
# _validate_style_kwargs does not know; written singular before it runs.
_PLURALS = {
    "linewidths": "linewidth",
    "linestyles": "linestyle",
    "edgecolors": "edgecolor",
    "facecolors": "facecolor",
}
# Any of these set the face colour of scatter markers, replacing our ``c``.
_FACE_KEYS = frozenset({"c", "color", "facecolor", "facecolors", "fc"})


def import_pyplot(caller: str):
    """Import pyplot, or explain how to install the ``plot`` extra."""
    try:
        check_matplotlib_support(caller)
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs matplotlib, an optional dependency of "
            f"sklearn-nsigma. Install it with: {_INSTALL_HINT}"
        ) from exc
    import matplotlib.pyplot as plt

    return plt


def merge_style(defaults: dict, user: dict | None) -> dict:
    """Defaults updated with the user's keywords, aliases resolved.

    scikit-learn's ``_validate_style_kwargs``: a user ``lw`` replaces a
    default ``linewidth``, and both spellings from the user are an error.
    Plural spellings (``linewidths``) count as singular.
    """
    user = {_PLURALS.get(key, key): value for key, value in (user or {}).items()}
    return _validate_style_kwargs(defaults, user)


def patch_style(defaults: dict, user: dict) -> dict:
    """As merge_style, where ``color``/``c`` set the edge colour of a patch."""
    user = dict(user)
    for key in ("color", "c"):
        if key in user:
            user.setdefault("edgecolor", user.pop(key))
    return merge_style(defaults, user)


def component_color(k: int):
    """Colour of component ``k``: the same in every display."""
    import matplotlib as mpl

    return mpl.colormaps["tab10"](int(k) % 10)


def check_color_by(color_by: str) -> None:
    if color_by not in _COLOR_BY:
        raise ValueError(f"color_by must be one of {_COLOR_BY}, got {color_by!r}.")


def _rgba(color):
    import matplotlib as mpl

    return np.asarray(mpl.colors.to_rgba(color))


def _point_colors(color_by, inside, labels):
    if color_by == "component" and labels is not None:
        return [component_color(k) for k in labels]
    if color_by == "inside" and inside is not None:
        return np.where(
            inside[:, np.newaxis], _rgba(_INLIER_COLOR), _rgba(_OUTLIER_COLOR)
        )
    return _INLIER_COLOR


def component_label(component: int, weights) -> str:
    """ "component k", with its weight when known."""
    label = f"component {component}"
    if weights is not None:
        label += f" (w={weights[component]:.2f})"
    return label


def legend_handles(levels, color_by, has_points, components, weights):
    """Proxy artists for the levels, the point colours and the components."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color="0.25", linestyle=LINESTYLES[i % 4], label=f"{n:g}σ")
        for i, n in enumerate(levels)
    ]
    if has_points and color_by == "inside":
        handles += [
            Line2D([], [], color=color, marker="o", linestyle="", label=label)
            for color, label in ((_INLIER_COLOR, "inlier"), (_OUTLIER_COLOR, "outlier"))
        ]
    handles += [
        Line2D([], [], color=component_color(k), label=component_label(k, weights))
        for k in components
    ]
    return handles


def legend_beside(ax, handles):
    """A legend to the right of ``ax``, where it covers no curve."""
    return ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.5,
        fontsize="small",
    )


def frame(ax, points: np.ndarray) -> None:
    """Axis limits that frame ``points`` (one column per axis), with a margin.

    The n-sigma ellipses of a high threshold in many dimensions reach far
    beyond the data of any 2-D or 3-D view: the axes follow the data.
    """
    setters = (ax.set_xlim, ax.set_ylim, getattr(ax, "set_zlim", None))
    for setter, values in zip(setters, np.asarray(points).T, strict=False):
        low, high = float(values.min()), float(values.max())
        pad = _MARGIN * (high - low) if high > low else _MARGIN * max(abs(low), 1.0)
        setter(low - pad, high + pad)


def set_axis_labels(ax, labels) -> None:
    """Set each axis label given, where the axes has none yet."""
    axes = ("x", "y", "z")
    for axis, label in zip(axes, labels, strict=False):
        if label is not None and not getattr(ax, f"get_{axis}label")():
            getattr(ax, f"set_{axis}label")(label)


@dataclass(frozen=True)
class PointStyle:
    """The options of every ellipse display's ``plot`` for the points, the
    centres and the legend, checked once."""

    color_by: str = "inside"
    show_centers: bool = True
    legend: bool = True
    scatter_kwargs: dict | None = None
    center_kwargs: dict | None = None

    def __post_init__(self):
        check_color_by(self.color_by)

    def options(self, **changes) -> dict:
        """The options as keywords of ``plot``, with ``changes``."""
        return {f.name: getattr(self, f.name) for f in fields(self)} | changes


@dataclass(kw_only=True, repr=False, eq=False)
class ComponentsDisplay:
    """Base of the displays that draw components over points.

    Its constructor stores what every such display takes (centres, levels,
    which components, their weights, the points and their colours); each
    display adds its own geometry and labels. Its methods compute what
    ``from_estimator`` needs and draw the points, the centres and the
    legend.
    """

    # The number of features a display draws; None for any number.
    dimension: ClassVar[int | None] = None

    centers: ArrayLike
    n_sigma: ArrayLike
    components: ArrayLike | None = None
    weights: ArrayLike | None = None
    X: ArrayLike | None = None
    inside: ArrayLike | None = None
    labels: ArrayLike | None = None

    @classmethod
    def _prepare(cls, estimator, X, n_sigma, min_weight, features) -> Drawn:
        """The prologue of ``from_estimator``: pyplot, then the arrays."""
        import_pyplot(f"{cls.__name__}.from_estimator")
        return prepare(
            estimator,
            X,
            n_sigma=n_sigma,
            min_weight=min_weight,
            features=features,
            count=cls.dimension,
            display=cls.__name__,
        )

    def _drawn(self):
        """Centres, levels and component indices, as arrays."""
        centers = np.asarray(self.centers)
        levels = check_n_sigma(self.n_sigma, levels=True)
        components = (
            np.arange(centers.shape[0])
            if self.components is None
            else np.asarray(self.components)
        )
        return centers, levels, components

    def _draw_points(self, ax, centers, style: PointStyle, zorder: float = 1):
        """Scatter the points and the centres, and frame the points.

        Sets ``scatter_`` and ``centers_``.
        """
        user = style.scatter_kwargs or {}
        self.scatter_ = None
        if self.X is not None:
            X = np.asarray(self.X)
            defaults = {"s": 12, "linewidth": 0, "zorder": zorder}
            if not _FACE_KEYS & set(user):
                defaults["c"] = _point_colors(style.color_by, self.inside, self.labels)
            # ``c`` may be values for a colormap: passed as given, not as color.
            kwargs = merge_style(defaults, {k: v for k, v in user.items() if k != "c"})
            kwargs.update({k: v for k, v in user.items() if k == "c"})
            self.scatter_ = ax.scatter(*X.T, **kwargs)
        self.centers_ = None
        if style.show_centers:
            defaults = {"marker": "+", "color": "black", "s": 80, "zorder": zorder + 2}
            kwargs = merge_style(defaults, style.center_kwargs)
            self.centers_ = ax.scatter(*centers.T, **kwargs)
        if self.X is not None:
            frame(ax, np.vstack([np.asarray(self.X), centers]))

    def _legend_handles(self, levels, color_by, components):
        return legend_handles(
            levels, color_by, self.X is not None, components, self.weights
        )

    def _finish(self, ax, style: PointStyle, handles):
        """Add the legend beside ``ax`` (if asked), set ``ax_`` and
        ``figure_``, and return the display."""
        self.legend_ = legend_beside(ax, handles) if style.legend else None
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
