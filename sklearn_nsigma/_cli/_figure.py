"""The figure of ``--plot``: ellipses, ellipsoids or pairwise ellipses, and coverage.

The displays of :mod:`sklearn_nsigma._plot` draw; this module frames the
data (axis limits from the points, not from the outermost ellipse), puts
legends where they cover no curve, and keeps points visible through 3-D
surfaces.
"""

import os

import numpy as np

from sklearn_nsigma._cli._args import CLIError

MAX_PAIRWISE_FEATURES = 6
MAX_POINTS = 5_000
MARGIN = 0.05


def check_plot_path(path: str):
    """Import pyplot and check that it can write ``path``'s format."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CLIError(
            "--plot needs matplotlib: pip install 'sklearn-nsigma[plot]'"
        ) from None
    from matplotlib.backend_bases import FigureCanvasBase

    extension = os.path.splitext(path)[1].lstrip(".").lower()
    supported = FigureCanvasBase.get_supported_filetypes()
    if extension not in supported:
        raise CLIError(
            f"cannot write a figure to {path!r}: use one of the extensions "
            f"{', '.join('.' + ext for ext in sorted(supported))}"
        )
    return plt


def plot_rows(n_rows: int, random_state: int) -> np.ndarray:
    """Indices of the rows drawn: all, or a random :data:`MAX_POINTS`."""
    if n_rows <= MAX_POINTS:
        return np.arange(n_rows)
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n_rows, MAX_POINTS, replace=False))


def data_limits(values: np.ndarray) -> tuple:
    """Limits that frame ``values`` with a small margin."""
    low, high = float(np.min(values)), float(np.max(values))
    pad = MARGIN * (high - low) if high > low else max(abs(low), 1.0) * MARGIN
    return low - pad, high + pad


def _legend_outside(ax, legend, **kwargs) -> None:
    """Move ``legend`` to the right of ``ax``, off the curves."""
    if legend is None:
        return
    handles = legend.legend_handles
    labels = [text.get_text() for text in legend.get_texts()]
    legend.remove()
    ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        fontsize="small",
        **kwargs,
    )


def _draw_2d(panel, detector, X, names, levels):
    from sklearn_nsigma._plot import EllipseDisplay

    ax = panel.subplots()
    display = EllipseDisplay.from_estimator(
        detector, X, n_sigma=levels, ax=ax, xlabel=names[0], ylabel=names[1]
    )
    ax.set_xlim(*data_limits(X[:, 0]))
    ax.set_ylim(*data_limits(X[:, 1]))
    _legend_outside(ax, display.legend_)


def _draw_3d(panel, detector, X, names, levels):
    from sklearn_nsigma._plot import EllipsoidDisplay

    ax = panel.add_subplot(projection="3d")
    # Draw in the order given, not by depth: points on top of the surfaces.
    ax.computed_zorder = False
    display = EllipsoidDisplay.from_estimator(
        detector, X, n_sigma=levels, ax=ax, scatter_kwargs={"depthshade": False}
    )
    for artist in display.ellipsoids_.flat:
        artist.set_alpha(min(0.15, artist.get_alpha() or 0.15))
        artist.set_zorder(1)
    if display.scatter_ is not None:
        display.scatter_.set_zorder(3)
    if display.centers_ is not None:
        display.centers_.set_zorder(4)
    for axis, setter in enumerate((ax.set_xlim, ax.set_ylim, ax.set_zlim)):
        setter(*data_limits(X[:, axis]))
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_zlabel(names[2])
    # Leave room for the axis labels, which the layout does not see in 3-D.
    ax.set_box_aspect(None, zoom=0.8)
    _legend_outside(ax, display.legend_)


def _draw_pairwise(panel, detector, X, names, levels):
    from sklearn_nsigma._plot import PairwiseEllipseDisplay

    shown = min(X.shape[1], MAX_PAIRWISE_FEATURES)
    axes = panel.subplots(shown - 1, shown - 1, squeeze=False)
    display = PairwiseEllipseDisplay.from_estimator(
        detector, X, n_sigma=levels, features=list(range(shown)), ax=axes
    )
    for row in range(shown - 1):
        axes[row, 0].set_ylabel(names[row + 1])
        axes[-1, row].set_xlabel(names[row])
        for col in range(row + 1):
            axes[row, col].set_xlim(*data_limits(X[:, col]))
            axes[row, col].set_ylim(*data_limits(X[:, row + 1]))
    if display.legend_ is not None and shown > 2:
        # The upper-right panels are empty: the legend goes in the corner.
        handles = display.legend_.legend_handles
        labels = [text.get_text() for text in display.legend_.get_texts()]
        display.legend_.remove()
        axes[0, -1].legend(handles, labels, loc="upper right", fontsize="small")
    if shown < X.shape[1]:
        panel.suptitle(
            f"first {shown} of {X.shape[1]} features (choose with --columns)",
            fontsize="small",
        )


def draw_figure(plt, detector, scaled_detector, X, Z, names, title):
    """The display that fits the dimension, next to the coverage diagnostic.

    ``detector`` and ``X`` are in original units (the axes); the coverage
    diagnostic uses the standardised ``scaled_detector`` and ``Z``, which
    give the same distances.
    """
    from sklearn_nsigma._plot import CoverageDisplay

    n_features = X.shape[1]
    threshold = float(detector.threshold_)
    levels = sorted({1.0, 2.0, round(threshold, 2)})
    if n_features == 1:
        figure, ax = plt.subplots(figsize=(6, 4.5), layout="constrained")
        CoverageDisplay.from_estimator(scaled_detector, Z, ax=ax)
        ax.set_title("Coverage: observed vs chi-square")
        figure.suptitle(title, fontsize="medium")
        return figure
    shown = min(n_features, MAX_PAIRWISE_FEATURES)
    size = 2.6 * (shown - 1) + 1 if n_features > 3 else 6
    legend_room = 2.2 if n_features <= 3 else 0
    figure = plt.figure(
        figsize=(size + legend_room + 4.5, max(size, 4.5)), layout="constrained"
    )
    left, right = figure.subfigures(1, 2, width_ratios=[size + legend_room, 4.5])
    draw = {2: _draw_2d, 3: _draw_3d}.get(n_features, _draw_pairwise)
    draw(left, detector, X, names, levels)
    coverage_ax = right.subplots()
    coverage_ax.set_box_aspect(1)
    CoverageDisplay.from_estimator(scaled_detector, Z, ax=coverage_ax)
    coverage_ax.set_title("Coverage: observed vs chi-square", fontsize="medium")
    figure.suptitle(title, fontsize="medium")
    return figure
