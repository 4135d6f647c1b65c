"""The displays: artists, geometry and errors (never pixels)."""

import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import chi2
from sklearn.frozen import FrozenEstimator
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

from sklearn_nsigma import (
    CoverageDisplay,
    EllipseDisplay,
    EllipsoidDisplay,
    NSigmaGaussianMixture,
    NSigmaOutlierDetector,
    PairwiseEllipseDisplay,
)
from sklearn_nsigma._coverage import coverage_curves
from sklearn_nsigma._geometry import marginal_params
from sklearn_nsigma._plot._mixture import mixture_ellipsoids


def _rotated_blobs(n_features, seed=0):
    rng = np.random.RandomState(seed)
    A = rng.normal(size=(n_features, n_features))
    first = rng.multivariate_normal(np.zeros(n_features), A @ A.T + 0.5, 200)
    second = rng.normal(6, 1, (150, n_features))
    far = rng.uniform(-10, 16, (10, n_features))
    return np.concatenate([first, second, far])


@pytest.fixture(scope="module")
def X2():
    return _rotated_blobs(2)


@pytest.fixture(scope="module")
def gmm2(X2):
    return NSigmaGaussianMixture(n_components=2, random_state=0).fit(X2)


@pytest.fixture(scope="module")
def X3():
    return _rotated_blobs(3)


@pytest.fixture(scope="module")
def gmm3(X3):
    return NSigmaGaussianMixture(n_components=2, random_state=0).fit(X3)


@pytest.fixture(scope="module")
def X5():
    return _rotated_blobs(5)


@pytest.fixture(scope="module")
def gmm5(X5):
    return NSigmaGaussianMixture(n_components=2, random_state=0).fit(X5)


def _rgba(color):
    from matplotlib.colors import to_rgba

    return np.array(to_rgba(color))


# -- EllipseDisplay ------------------------------------------------------------
def test_ellipse_display_patches_match_ellipsoid_params(pyplot, X2, gmm2):
    """Check each patch: centre, width 2*n*r0, height 2*n*r1 and the angle."""
    fig, ax = pyplot.subplots()
    display = EllipseDisplay.from_estimator(gmm2, X2, n_sigma=(1, 2, 3), ax=ax)
    params = gmm2.ellipsoid_params_
    assert display.ax_ is ax
    assert display.figure_ is fig
    assert display.ellipses_.shape == (3, 2)
    for i, n in enumerate((1, 2, 3)):
        for k in range(2):
            patch = display.ellipses_[i, k]
            assert patch in ax.patches
            assert_allclose(patch.center, params.centers[k])
            assert patch.width == pytest.approx(2 * n * params.radii[k, 0])
            assert patch.height == pytest.approx(2 * n * params.radii[k, 1])
            assert patch.angle == pytest.approx(params.angles[k])
    assert_allclose(display.centers_.get_offsets(), params.centers)
    assert_allclose(display.scatter_.get_offsets(), X2)
    labels = [text.get_text() for text in display.legend_.get_texts()]
    assert labels[:3] == ["1σ", "2σ", "3σ"]
    assert ax.get_xlabel() == "feature 0" and ax.get_ylabel() == "feature 1"


def test_ellipse_display_colours_points_inside_and_outside(pyplot, X2, gmm2):
    """Check outliers (beyond the largest level of every component) are red."""
    display = EllipseDisplay.from_estimator(gmm2, X2, n_sigma=(1, 2.5))
    outside = gmm2.mahalanobis(X2).min(axis=1) > 2.5
    assert 0 < outside.sum() < len(X2)
    assert_array_equal(display.inside, ~outside)
    colors = display.scatter_.get_facecolors()
    assert_allclose(colors[outside], np.tile(_rgba("crimson"), (outside.sum(), 1)))
    assert not np.isclose(colors[~outside], _rgba("crimson")).all(axis=1).any()


def test_ellipse_display_colours_points_by_component(pyplot, X2, gmm2):
    """Check that color_by='component' gives each point its component's colour."""
    display = EllipseDisplay.from_estimator(gmm2, X2, color_by="component")
    labels = gmm2.predict(X2)
    colors = display.scatter_.get_facecolors()
    edge = [_rgba(display.ellipses_[0, k].get_edgecolor()) for k in range(2)]
    for k in range(2):
        assert_allclose(colors[labels == k], np.tile(edge[k], ((labels == k).sum(), 1)))


def test_ellipse_display_forwards_kwargs(pyplot, gmm2):
    """Check that keywords reach the patches, aliases and color included."""
    display = EllipseDisplay.from_estimator(
        gmm2, n_sigma=2, color="black", lw=4, ls=":", center_kwargs={"c": "red"}
    )
    patch = display.ellipses_[0, 0]
    assert_allclose(patch.get_edgecolor(), _rgba("black"))
    assert patch.get_facecolor()[3] == 0  # still unfilled
    assert patch.get_linewidth() == 4
    assert patch.get_linestyle() == ":"
    assert display.scatter_ is None
    assert_allclose(display.centers_.get_facecolors()[0], _rgba("red"))


def test_ellipse_display_options(pyplot, X2, gmm2):
    """Check show_centers, legend and color_by validation."""
    display = EllipseDisplay.from_estimator(gmm2, X2, show_centers=False, legend=False)
    assert display.centers_ is None
    assert display.legend_ is None
    assert display.ax_.get_legend() is None
    with pytest.raises(ValueError, match="color_by must be one of"):
        EllipseDisplay.from_estimator(gmm2, X2, color_by="weight")


@pytest.mark.parametrize("mixture_class", [GaussianMixture, BayesianGaussianMixture])
def test_ellipse_display_plain_mixtures_hide_light_components(
    pyplot, X2, mixture_class
):
    """Check plain scikit-learn mixtures, with low-weight components hidden."""
    mixture = mixture_class(n_components=6, max_iter=500, random_state=0).fit(X2)
    weights = mixture.weights_
    # Shrink one weight below the threshold, whatever the fit gave.
    mixture.weights_ = np.where(np.arange(6) == np.argmin(weights), 0.001, weights)
    display = EllipseDisplay.from_estimator(mixture, X2, min_weight=0.01)
    expected = np.flatnonzero(mixture.weights_ >= 0.01)
    assert 0 < len(expected) < 6
    assert_array_equal(display.components, expected)
    assert display.ellipses_.shape == (3, len(expected))
    assert len(display.ax_.patches) == 3 * len(expected)
    all_shown = EllipseDisplay.from_estimator(mixture, X2, min_weight=0)
    assert all_shown.ellipses_.shape == (3, 6)


def test_ellipse_display_of_a_detector_uses_its_threshold(pyplot, X2, gmm2):
    """Check a detector: its threshold as the level, its predict for colours."""
    # robust=None: the mixture's own ellipsoids (the re-estimated ones are
    # drawn too, see test_the_drawn_threshold_is_where_predict_changes_...)
    detector = NSigmaOutlierDetector(
        FrozenEstimator(gmm2), n_sigma=2.5, robust=None
    ).fit(X2)
    display = EllipseDisplay.from_estimator(detector, X2)
    assert_array_equal(display.n_sigma, [2.5])
    assert_array_equal(display.inside, detector.predict(X2) == 1)
    params = gmm2.ellipsoid_params_
    # the threshold is drawn at each component's raw radius: where predict flips
    assert display.ellipses_[0, 1].width == pytest.approx(
        2 * detector.radii_[1] * params.radii[1, 0]
    )
    assert detector.radii_[1] > 2.5  # calibrated: wider than the raw 2.5
    raw = NSigmaOutlierDetector(
        FrozenEstimator(gmm2), n_sigma=2.5, calibration="none"
    ).fit(X2)
    display = EllipseDisplay.from_estimator(raw, X2)
    assert display.ellipses_[0, 1].width == pytest.approx(5 * params.radii[1, 0])

    contaminated = NSigmaOutlierDetector(
        GaussianMixture(2, random_state=0), contamination=0.1
    ).fit(X2)
    display = EllipseDisplay.from_estimator(contaminated, X2, n_sigma=[1, 2])
    assert_array_equal(display.n_sigma, [1, 2])
    assert display.inside.mean() == pytest.approx(0.9, abs=0.01)


def test_ellipse_display_marginal_features(pyplot, X5, gmm5):
    """Check features=(i, j) draws the 2x2 sub-covariance ellipses."""
    display = EllipseDisplay.from_estimator(gmm5, X5, features=(3, 1), n_sigma=2)
    marginal = marginal_params(gmm5.ellipsoid_params_, [3, 1])
    for k in range(2):
        patch = display.ellipses_[0, k]
        assert patch.width == pytest.approx(4 * marginal.radii[k, 0])
        assert patch.height == pytest.approx(4 * marginal.radii[k, 1])
        assert patch.angle == pytest.approx(marginal.angles[k])
    assert_allclose(display.scatter_.get_offsets(), X5[:, [3, 1]])
    # Inside/outside still uses all five features.
    assert_array_equal(display.inside, gmm5.mahalanobis(X5).min(axis=1) <= 2)
    assert display.ax_.get_xlabel() == "feature 3"


def test_ellipse_display_errors(pyplot, X2, gmm2, X5, gmm5):
    """Check the errors: dimension, features, X and estimator."""
    with pytest.raises(ValueError, match="EllipsoidDisplay"):
        EllipseDisplay.from_estimator(gmm5, X5)
    with pytest.raises(ValueError, match="2 distinct feature indices"):
        EllipseDisplay.from_estimator(gmm5, X5, features=(1, 1))
    with pytest.raises(ValueError, match=r"indices in \[0, 5\)"):
        EllipseDisplay.from_estimator(gmm5, X5, features=(0, 5))
    with pytest.raises(ValueError, match="X has 5 features"):
        EllipseDisplay.from_estimator(gmm2, X5)
    with pytest.raises(ValueError, match="n_sigma"):
        EllipseDisplay.from_estimator(gmm2, X2, n_sigma=-1)
    with pytest.raises(TypeError, match="Expected a Gaussian mixture"):
        EllipseDisplay.from_estimator(object(), X2)


def test_ellipse_display_dataframe_feature_names(pyplot, X2):
    """Check pandas column names label the axes, without warnings."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X2, columns=["height", "weight"])
    gmm = NSigmaGaussianMixture(n_components=2, random_state=0).fit(frame)
    detector = NSigmaOutlierDetector(GaussianMixture(2, random_state=0)).fit(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for estimator in (gmm, detector):
            display = EllipseDisplay.from_estimator(estimator, frame)
            assert display.ax_.get_xlabel() == "height"
            assert display.ax_.get_ylabel() == "weight"
        CoverageDisplay.from_estimator(detector, frame)


def test_ellipse_display_plot_directly(pyplot):
    """Check the constructor path: arrays in, patches out."""
    display = EllipseDisplay(
        centers=np.array([[1.0, 2.0]]),
        radii=np.array([[2.0, 0.5]]),
        angles=np.array([30.0]),
        n_sigma=np.array([1.0, 3.0]),
    )
    assert display.plot() is display
    patch = display.ellipses_[1, 0]
    assert (patch.width, patch.height, patch.angle) == (12.0, 3.0, 30.0)
    assert display.scatter_ is None
    assert display.ax_.figure is display.figure_


def test_plot_without_matplotlib_names_the_extra(monkeypatch, gmm2):
    """Check the ImportError tells how to install the plot extra."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "sklearn-nsigma\[plot\]"'):
        EllipseDisplay.from_estimator(gmm2)
    display = CoverageDisplay(n_sigma=[1.0], observed=[[0.5]], expected=[0.4])
    with pytest.raises(ImportError, match=r"CoverageDisplay.plot needs matplotlib"):
        display.plot()


# -- EllipsoidDisplay -------------------------------------------------------------
def test_ellipsoid_display_refuses_a_2d_axes(pyplot, X3, gmm3):
    """Check the clear error on a 2-D axes."""
    _, ax = pyplot.subplots()
    with pytest.raises(ValueError, match="3-D axes"):
        EllipsoidDisplay.from_estimator(gmm3, X3, ax=ax)


@pytest.mark.parametrize(
    "kind, artist", [("surface", "Poly3DCollection"), ("wireframe", "Line3DCollection")]
)
def test_ellipsoid_display_artists(pyplot, X3, gmm3, kind, artist):
    """Check one surface or wireframe per level and component, on the given axes."""
    fig = pyplot.figure()
    ax = fig.add_subplot(projection="3d")
    display = EllipsoidDisplay.from_estimator(
        gmm3, X3, n_sigma=(1, 2), kind=kind, resolution=10, ax=ax
    )
    assert display.ax_ is ax and display.figure_ is fig
    assert display.ellipsoids_.shape == (2, 2)
    assert {type(a).__name__ for a in display.ellipsoids_.ravel()} == {artist}
    assert all(a in ax.collections for a in display.ellipsoids_.ravel())
    assert_allclose(display.radii, gmm3.ellipsoid_params_.radii)
    assert_allclose(display.rotations, gmm3.ellipsoid_params_.rotations)
    assert display.scatter_ is not None and display.centers_ is not None
    assert ax.get_zlabel() == "feature 2"
    # The view covers the 2-sigma ellipsoid's extent along x.
    params = gmm3.ellipsoid_params_
    extent = 2 * np.sqrt(np.diagonal(params.covariances(), axis1=1, axis2=2))[:, 0]
    low, high = ax.get_xlim()
    assert low <= (params.centers[:, 0] - extent).min()
    assert high >= (params.centers[:, 0] + extent).max()


def test_ellipsoid_display_options_and_errors(pyplot, X3, gmm3, X5, gmm5):
    """Check kwargs, kind validation, dimensions and marginal features."""
    display = EllipsoidDisplay.from_estimator(gmm3, n_sigma=2, kind="wireframe", lw=3)
    assert display.ellipsoids_[0, 0].get_linewidth()[0] == 3
    assert display.scatter_ is None
    with pytest.raises(ValueError, match="kind must be"):
        EllipsoidDisplay.from_estimator(gmm3, kind="mesh")
    with pytest.raises(ValueError, match="3-D components but the mixture has 5"):
        EllipsoidDisplay.from_estimator(gmm5, X5)
    marginal = EllipsoidDisplay.from_estimator(gmm5, X5, features=(0, 2, 4))
    expected = marginal_params(gmm5.ellipsoid_params_, [0, 2, 4])
    assert_allclose(marginal.radii, expected.radii)


# -- PairwiseEllipseDisplay ---------------------------------------------------------
def test_pairwise_display_grid(pyplot, X5, gmm5):
    """Check the lower-triangle grid of marginal ellipses and the note."""
    display = PairwiseEllipseDisplay.from_estimator(gmm5, X5, n_sigma=(1, 3))
    assert display.axes_.shape == (4, 4)
    params = gmm5.ellipsoid_params_
    for row in range(4):
        for col in range(4):
            ax = display.axes_[row, col]
            if col > row:
                assert display.displays_[row, col] is None
                assert not ax.axison
                continue
            i, j = col, row + 1
            panel = display.displays_[row, col]
            assert panel.ax_ is ax
            marginal = marginal_params(params, [i, j])
            for k in range(2):
                patch = panel.ellipses_[1, k]
                assert patch.width == pytest.approx(6 * marginal.radii[k, 0])
                assert patch.angle == pytest.approx(marginal.angles[k])
            assert_allclose(panel.scatter_.get_offsets(), X5[:, [i, j]])
    assert display.axes_[3, 0].get_xlabel() == "feature 0"
    assert display.axes_[3, 0].get_ylabel() == "feature 4"
    assert "does not imply inside in 5-D" in display.note_.get_text().replace("\n", " ")
    assert display.legend_ is not None
    assert display.figure_ is display.axes_[0, 0].figure


def test_pairwise_display_ax_and_features(pyplot, X5, gmm5):
    """Check features selection, an array of axes, one axes, and bad shapes."""
    fig, axes = pyplot.subplots(2, 2)
    display = PairwiseEllipseDisplay.from_estimator(
        gmm5, X5, features=[4, 0, 2], ax=axes
    )
    assert display.axes_[1, 0] is axes[1, 0]
    assert display.axes_[1, 1].get_xlabel() == "feature 0"
    assert "5-D" in display.note_.get_text()

    fig, ax = pyplot.subplots()
    display = PairwiseEllipseDisplay.from_estimator(gmm5, X5, ax=ax)
    assert display.axes_.shape == (4, 4)
    assert display.figure_ is fig

    with pytest.raises(ValueError, match=r"shape \(4, 4\)"):
        PairwiseEllipseDisplay.from_estimator(gmm5, X5, ax=axes)


# -- CoverageDisplay ------------------------------------------------------------------
def test_coverage_display_curves(pyplot, X3, gmm3):
    """Check one observed line per drawn component and the chi-square line."""
    fig, ax = pyplot.subplots()
    levels = np.linspace(0, 4, 9)
    display = CoverageDisplay.from_estimator(gmm3, X3, n_sigma=levels, ax=ax)
    assert display.ax_ is ax and display.figure_ is fig
    assert len(display.lines_) == 2
    assert_allclose(display.expected_line_.get_ydata(), chi2.cdf(levels**2, 3))
    observed, effective_n = coverage_curves(
        gmm3.mahalanobis(X3), gmm3.predict_proba(X3), levels
    )
    for k, line in enumerate(display.lines_):
        assert_allclose(line.get_xdata(), levels)
        assert_allclose(line.get_ydata(), observed[k])
    assert_allclose(display.effective_n, effective_n)
    assert "chi2.cdf(n², 3)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_coverage_display_defaults_and_detector(pyplot, X5):
    """Check the default grid and a detector around a Bayesian mixture."""
    detector = NSigmaOutlierDetector(
        BayesianGaussianMixture(n_components=4, max_iter=500, random_state=0)
    ).fit(X5)
    display = CoverageDisplay.from_estimator(detector, X5, linewidth=3)
    assert display.n_sigma[0] == 0 and display.n_sigma.size == 121
    assert display.expected[-1] > 0.9999
    shown = np.flatnonzero(detector.eligible_components_)
    assert_array_equal(display.components, shown)
    assert all(line.get_linewidth() == 3 for line in display.lines_)
    with pytest.raises(ValueError, match="needs the samples X"):
        CoverageDisplay.from_estimator(detector, None)


# -- Framing, legends, labels and min_weight, shared by the displays -----------------
@pytest.fixture(scope="module")
def wine_detector():
    """The standardised wine data (13 features) and a default detector."""
    from sklearn.datasets import load_wine
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(load_wine().data)
    return NSigmaOutlierDetector().fit(X), X


def _inside_limits(values, limits):
    low, high = limits
    span = values.max() - values.min()
    return low >= values.min() - 0.1 * span and high <= values.max() + 0.1 * span


def test_pairwise_display_frames_the_data_not_the_ellipses(pyplot, wine_detector):
    """Check each panel frames the points, though the threshold's marginal
    ellipses of 13-D components reach far beyond them."""
    detector, X = wine_detector
    display = PairwiseEllipseDisplay.from_estimator(detector, X, features=[0, 1, 2])
    for (row, col), panel in np.ndenumerate(display.displays_):
        if panel is None:
            continue
        i, j = col, row + 1
        assert _inside_limits(X[:, i], panel.ax_.get_xlim())
        assert _inside_limits(X[:, j], panel.ax_.get_ylim())
        assert panel.ax_.get_xlim()[0] <= X[:, i].min()
        assert panel.ax_.get_ylim()[1] >= X[:, j].max()
        widest = max(e.width for e in panel.ellipses_.flat)
        assert widest > np.ptp(panel.ax_.get_xlim())  # what used to set the view


def test_ellipsoid_display_frames_the_data_and_shows_points(pyplot, wine_detector):
    """Check the 3-D view frames the points, drawn above the shells."""
    detector, X = wine_detector
    display = EllipsoidDisplay.from_estimator(detector, X, features=(0, 1, 2))
    ax = display.ax_
    for axis, limits in enumerate((ax.get_xlim(), ax.get_ylim(), ax.get_zlim())):
        assert _inside_limits(X[:, axis], limits)
    assert ax.computed_zorder is False  # drawn by zorder, not depth
    shells = display.ellipsoids_.ravel()
    assert display.scatter_.get_zorder() > max(s.get_zorder() for s in shells)
    assert display.centers_.get_zorder() > display.scatter_.get_zorder()
    assert max(s.get_alpha() for s in shells) <= 0.2


def test_legends_do_not_cover_the_ellipses(pyplot, X2, gmm2, X5, gmm5):
    """Check the 2-D and 3-D legends stand beside the axes, and the pairwise
    legend in the grid's empty corner."""
    display = EllipseDisplay.from_estimator(gmm2, X2)
    display.figure_.canvas.draw()
    legend_box = display.legend_.get_window_extent()
    assert legend_box.x0 >= display.ax_.get_window_extent().x1
    grid = PairwiseEllipseDisplay.from_estimator(gmm5, X5)
    assert grid.legend_.axes is grid.axes_[0, -1]
    assert not grid.axes_[0, -1].axison  # an empty panel
    two = PairwiseEllipseDisplay.from_estimator(gmm2, X2)
    two.figure_.canvas.draw()
    assert two.legend_.get_window_extent().x0 >= two.axes_[0, 0].get_window_extent().x1


def test_displays_take_axis_labels(pyplot, X3, gmm3, X5, gmm5):
    """Check xlabel/ylabel/zlabel, feature_names and the coverage labels."""
    ellipsoid = EllipsoidDisplay.from_estimator(
        gmm3, X3, xlabel="a", ylabel="b", zlabel="c"
    )
    ax = ellipsoid.ax_
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()) == ("a", "b", "c")
    grid = PairwiseEllipseDisplay.from_estimator(
        gmm5, X5, features=[4, 0, 2], feature_names=["x4", "x0", "x2"]
    )
    assert grid.axes_[1, 0].get_xlabel() == "x4"
    assert grid.axes_[1, 1].get_xlabel() == "x0"
    assert grid.axes_[1, 0].get_ylabel() == "x2"
    with pytest.raises(ValueError, match="feature_names must name the 3 features"):
        PairwiseEllipseDisplay.from_estimator(
            gmm5, X5, features=[4, 0, 2], feature_names=["x4"]
        )
    coverage = CoverageDisplay.from_estimator(gmm3, X3, xlabel="radius", ylabel="share")
    assert coverage.ax_.get_xlabel() == "radius"
    assert coverage.ax_.get_ylabel() == "share"
    default = CoverageDisplay.from_estimator(gmm3, X3)
    assert default.ax_.get_xlabel() == "n (Mahalanobis radius, sigmas)"


def test_display_min_weight_auto_is_the_detectors_rule(pyplot, X2):
    """Check min_weight='auto': the detector's components for a detector,
    max(0.05, 2 / len(X)) for a mixture."""
    mixture = GaussianMixture(n_components=3, random_state=0).fit(X2)
    mixture.weights_ = np.array([0.04, 0.06, 0.9])
    assert_array_equal(EllipseDisplay.from_estimator(mixture, X2).components, [1, 2])
    few = X2[:25]  # 2 / 25 = 0.08: the 0.06 component holds fewer than 2 rows
    assert_array_equal(EllipseDisplay.from_estimator(mixture, few).components, [2])
    assert_array_equal(EllipseDisplay.from_estimator(mixture).components, [1, 2])
    detector = NSigmaOutlierDetector(
        BayesianGaussianMixture(n_components=5, max_iter=500, random_state=0),
        min_weight=0.2,
    ).fit(X2)
    shown = CoverageDisplay.from_estimator(detector, X2).components
    assert_array_equal(shown, np.flatnonzero(detector.eligible_components_))
    assert (detector.estimator_.weights_[shown] >= 0.2).all()
    with pytest.raises(ValueError, match="min_weight must be"):
        EllipseDisplay.from_estimator(mixture, X2, min_weight="half")


def test_pairwise_display_decomposes_only_2x2_covariances(pyplot, X5, monkeypatch):
    """Check the pairwise grid takes each panel's ellipses from the 2x2
    sub-covariances, without decomposing the full covariances."""
    mixture = GaussianMixture(n_components=2, random_state=0).fit(X5)
    sizes = []
    eigh = np.linalg.eigh

    def counting_eigh(a, *args, **kwargs):
        sizes.append(np.shape(a)[-1])
        return eigh(a, *args, **kwargs)

    monkeypatch.setattr(np.linalg, "eigh", counting_eigh)
    display = PairwiseEllipseDisplay.from_estimator(mixture, X5, n_sigma=2)
    assert sizes and set(sizes) == {2}  # one 2x2 stack per panel, nothing else
    assert len(sizes) == 10  # 5 features: 10 panels
    monkeypatch.setattr(np.linalg, "eigh", eigh)
    expected = marginal_params(mixture_ellipsoids(mixture), [1, 3])
    panel = display.displays_[2, 1]  # feature 1 (x) against feature 3 (y)
    assert_allclose(panel.radii, expected.radii)
    assert_allclose(panel.angles, expected.angles)


def test_the_drawn_threshold_is_where_predict_changes_after_robust_refit():
    """Check that a detector's ellipse is drawn from its re-estimated parameters.

    Training outliers inflate the mixture's covariance; the default robust
    re-estimation shrinks the detector's ellipse, and the display must draw
    that one, not the mixture's.
    """
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(size=(500, 2)), rng.uniform(-15, 15, (40, 2))])
    detector = NSigmaOutlierDetector(GaussianMixture(1, random_state=0)).fit(X)
    display = EllipseDisplay.from_estimator(detector, X)
    angle = np.deg2rad(display.angles[0])
    axis = np.array([np.cos(angle), np.sin(angle)])
    edge = display.centers[0] + display.n_sigma.max() * display.radii[0, 0] * axis
    inside = display.centers[0] + 0.99 * (edge - display.centers[0])
    outside = display.centers[0] + 1.01 * (edge - display.centers[0])
    assert_array_equal(detector.predict(np.array([inside, outside])), [1, -1])


def test_displays_skip_ellipses_beyond_every_double(pyplot):
    """Check a detector whose threshold radius is inf: that ellipse is not drawn.

    A component of 4 samples in 2-D has a predictive F law with 1 degree of
    freedom; 60 sigmas under it is beyond every double. Matplotlib once
    warned "invalid value encountered" and drew nothing sensible.
    """
    import warnings

    from sklearn.frozen import FrozenEstimator
    from sklearn.mixture import GaussianMixture

    from sklearn_nsigma import EllipseDisplay, EllipsoidDisplay, NSigmaOutlierDetector

    rng = np.random.RandomState(0)
    for n_features, display in [(2, EllipseDisplay), (3, EllipsoidDisplay)]:
        X = np.concatenate(
            [rng.normal(size=(300, n_features)), rng.normal(size=(5, n_features)) + 20]
        )
        mixture = GaussianMixture(2, random_state=0).fit(X)
        detector = NSigmaOutlierDetector(
            FrozenEstimator(mixture), n_sigma=60, min_weight=0.0, robust=None
        ).fit(X)
        small = int(np.argmin(mixture.weights_))
        assert np.isinf(detector.radii_[small])
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            shown = display.from_estimator(detector, X)
        drawn = shown.ellipses_ if n_features == 2 else shown.ellipsoids_
        assert drawn[:, small].tolist() == [None] and drawn[0, 1 - small] is not None
