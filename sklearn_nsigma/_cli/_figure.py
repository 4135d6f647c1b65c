"""The figure of ``--plot``: ellipses, ellipsoids or pairwise ellipses, and coverage.

The displays of :mod:`sklearn_nsigma._plot` draw, frame the data and place
the legends; this module chooses the display for the dimension, labels the
axes, and lays it out next to the coverage diagnostic.
"""

import os

import numpy as np

from sklearn_nsigma._cli._args import CLIError

MAX_PAIRWISE_FEATURES = 6
MAX_POINTS = 5_000


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


def _draw_2d(panel, detector, X, names, levels):
    from sklearn_nsigma._plot import EllipseDisplay

    EllipseDisplay.from_estimator(
        detector,
        X,
        n_sigma=levels,
        ax=panel.subplots(),
        xlabel=names[0],
        ylabel=names[1],
    )


def _draw_3d(panel, detector, X, names, levels):
    from sklearn_nsigma._plot import EllipsoidDisplay

    ax = panel.add_subplot(projection="3d")
    display = EllipsoidDisplay.from_estimator(
        detector,
        X,
        n_sigma=levels,
        ax=ax,
        xlabel=names[0],
        ylabel=names[1],
        zlabel=names[2],
    )
    # fainter shells than the display's own, for the many points of a file
    for artist in display.ellipsoids_.flat:
        artist.set_alpha(min(0.15, artist.get_alpha() or 0.15))
    # Leave room for the axis labels, which the layout does not see in 3-D.
    ax.set_box_aspect(None, zoom=0.8)


def _draw_pairwise(panel, detector, X, names, levels):
    from sklearn_nsigma._plot import PairwiseEllipseDisplay

    shown = min(X.shape[1], MAX_PAIRWISE_FEATURES)
    PairwiseEllipseDisplay.from_estimator(
        detector,
        X,
        n_sigma=levels,
        features=list(range(shown)),
        feature_names=names[:shown],
        ax=panel.subplots(shown - 1, shown - 1, squeeze=False),
    )
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
