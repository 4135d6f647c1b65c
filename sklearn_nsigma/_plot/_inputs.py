"""What every ``from_estimator`` computes before it builds its display.

A Pipeline is unwrapped (the display is drawn in the space its last step
sees), the mixture and its detector are found, the levels, the drawn
components, the features and their names are chosen, and the points are
classified inside/outside, once for all four displays.
"""

import functools
from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from sklearn_nsigma._geometry import EllipsoidParams, ellipsoid_params
from sklearn_nsigma._plot._mixture import (
    drawn_components,
    drawn_covariances,
    drawn_ellipsoids,
    drawn_mixture,
    fitted_mixture,
    mahalanobis_distances,
    mixture_weights,
)
from sklearn_nsigma._validation import check_n_sigma

# What to use instead, when a mixture has not the dimension a display draws.
_OTHER_DISPLAYS = {
    2: "EllipsoidDisplay (3 features) or PairwiseEllipseDisplay",
    3: "EllipseDisplay (2 features) or PairwiseEllipseDisplay",
}


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


def _axis_labels(names, head, n_features: int) -> list[str]:
    """Axis labels: the names (or "feature i"), with the steps they went
    through."""
    names = names or [f"feature {i}" for i in range(n_features)]
    if head is None or not len(head.steps):
        return list(names)
    steps = ", ".join(name for name, _ in head.steps)
    return [f"{name} (after {steps})" for name in names]


def _resolve_levels(n_sigma, detector) -> np.ndarray:
    """The levels to draw: ``n_sigma``, or its default.

    The default is (1, 2, 3) for a mixture and the detector's threshold for
    a detector.
    """
    if n_sigma is not None:
        return check_n_sigma(n_sigma, levels=True)
    if detector is not None:
        threshold = getattr(detector, "threshold_", None)
        if threshold is None and hasattr(detector, "offset_"):
            threshold = -detector.offset_
        if threshold is not None:
            return check_n_sigma(float(threshold), levels=True)
    return np.array([1.0, 2.0, 3.0])


def _default_features(n_features: int, count: int | None, display: str) -> list[int]:
    """All features (``count`` None), or the only ``count`` there are."""
    if count is None:
        return list(range(n_features))
    if n_features != count:
        raise ValueError(
            f"{display} draws {count}-D components but the mixture has "
            f"{n_features} features: pass features= to draw the marginal "
            f"of {count} of them, or use {_OTHER_DISPLAYS[count]}."
        )
    return list(range(count))


def _feature_index(feature, names, expected: str, features) -> int:
    """The index of one feature, given by its index or its name."""
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
        return list(names).index(feature)
    if isinstance(feature, Integral | np.integer) and not isinstance(
        feature, bool | np.bool_
    ):
        return int(feature)
    raise ValueError(f"{expected}, got {feature!r} in {features!r}.")


def check_features(
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
        return _default_features(n_features, count, display)
    if isinstance(features, str | bytes) or not np.iterable(features):
        raise ValueError(f"{expected}, got {features!r}.")
    chosen = [_feature_index(f, names, expected, features) for f in list(features)]
    wrong_count = count is not None and len(chosen) != count
    if wrong_count or len(set(chosen)) != len(chosen) or len(chosen) < 2:
        raise ValueError(f"{expected}, got {features!r}.")
    if min(chosen) < 0 or max(chosen) >= n_features:
        raise ValueError(
            f"features must be indices in [0, {n_features}), got {features!r}."
        )
    return chosen


@dataclass
class Fitted:
    """A fitted mixture, its detector, and the samples as they see them.

    ``raw`` is X as the detector (or the last pipeline step) takes it,
    ``X_array`` the same as float64 (both None without samples), ``head``
    the pipeline steps before the mixture or detector.
    """

    estimator: object
    mixture: object
    detector: object | None
    raw: object
    X_array: np.ndarray | None
    head: Pipeline | None

    @property
    def n_features(self) -> int:
        return np.asarray(self.mixture.means_).shape[1]

    @functools.cached_property
    def drawn(self):
        """The Gaussians drawn: the detector's own, else the mixture's."""
        return drawn_mixture(self.mixture, self.detector)

    @property
    def X(self):
        """X as the mixture takes it: with column names only if it had them."""
        return self.raw if hasattr(self.mixture, "feature_names_in_") else self.X_array

    def components(self, min_weight) -> np.ndarray:
        """The components to draw; 'auto' counts the rows of X, if any."""
        n_samples = None if self.X_array is None else self.X_array.shape[0]
        return drawn_components(self.mixture, self.detector, min_weight, n_samples)

    def feature_names(self) -> list[str] | None:
        """Names of the features: X's columns, else the fitted names.

        For a pipeline, the names the steps before the last give out
        (``get_feature_names_out``) when they can. None when nothing names
        every feature.
        """
        candidates = []
        if self.head is not None and len(self.head):
            try:
                candidates.append(self.head.get_feature_names_out())
            except (AttributeError, TypeError, ValueError):
                pass
        candidates += [
            getattr(self.raw, "columns", None),
            getattr(self.estimator, "feature_names_in_", None),
            getattr(self.mixture, "feature_names_in_", None),
        ]
        for names in candidates:
            if names is not None and len(names) == self.n_features:
                return [str(name) for name in names]
        return None


def fitted(estimator, X) -> Fitted:
    """Unwrap ``estimator`` (a Pipeline, detector or mixture) and check X."""
    estimator, X, head = _unpipe(estimator, X)
    mixture, detector = fitted_mixture(estimator)
    if X is None:
        return Fitted(estimator, mixture, detector, None, None, head)
    X_array = check_array(X, dtype=np.float64)
    n_features = np.asarray(mixture.means_).shape[1]
    if X_array.shape[1] != n_features:
        raise ValueError(
            f"X has {X_array.shape[1]} features, but the mixture was fitted on "
            f"{n_features}."
        )
    return Fitted(estimator, mixture, detector, X, X_array, head)


@dataclass
class Drawn:
    """What an ellipse display draws, for the features it shows.

    ``points()`` are the keyword arguments every ellipse display takes for
    its points and components; ``labels`` the axis label of each feature
    shown.
    """

    source: Fitted
    levels: np.ndarray
    components: np.ndarray
    features: list[int]
    labels: list[str]
    inside: np.ndarray | None
    assigned: np.ndarray | None

    def points(self) -> dict:
        """The constructor keywords of every ellipse display but its geometry."""
        X = self.source.X_array
        return {
            "centers": self.centers(),
            "n_sigma": self.levels,
            "components": self.components,
            "weights": mixture_weights(self.source.mixture),
            "X": None if X is None else X[:, self.features],
            "inside": self.inside,
            "labels": self.assigned,
        }

    def axis_labels(self, given) -> list[str]:
        """The labels ``given``, the feature names where None."""
        return [
            label if label is not None else default
            for label, default in zip(given, self.labels, strict=True)
        ]

    def centers(self) -> np.ndarray:
        means = np.asarray(self.source.drawn.means_, dtype=np.float64)
        return means[self.components][:, self.features]

    def covariances(self) -> np.ndarray:
        """Covariances of the drawn components over the shown features."""
        source = self.source
        covariances = drawn_covariances(source.drawn, source.detector)
        return covariances[self.components][:, self.features][:, :, self.features]

    def ellipsoids(self) -> EllipsoidParams:
        """Ellipsoids of the drawn components over the shown features: the
        mixture's own, or the marginal ones from the sub-covariances."""
        source = self.source
        if self.features != list(range(source.n_features)):
            return ellipsoid_params(self.centers(), self.covariances(), "full")
        params = drawn_ellipsoids(source.drawn, source.detector)
        angles = None if params.angles is None else params.angles[self.components]
        return EllipsoidParams(
            params.centers[self.components],
            params.radii[self.components],
            params.rotations[self.components],
            angles,
        )


def _inside(source: Fitted, components, levels):
    """``predict(X) == 1`` for a detector; else within the largest level of a
    drawn component. Both use every feature of X."""
    if source.detector is not None:
        return np.asarray(source.detector.predict(source.raw)) == 1
    distances = mahalanobis_distances(source.X, source.mixture)[:, components]
    return distances.min(axis=1) <= levels.max()


def prepare(
    estimator, X, *, n_sigma, min_weight, features, count: int | None, display: str
) -> Drawn:
    """What the ellipse displays' ``from_estimator`` need.

    ``count`` is the number of features the display draws (None: at least
    two). Point colours (``inside``) and component labels use every feature.
    """
    source = fitted(estimator, X)
    levels = _resolve_levels(n_sigma, source.detector)
    components = source.components(min_weight)
    names = source.feature_names()
    chosen = check_features(features, source.n_features, count, display, names)
    labels = _axis_labels(names, source.head, source.n_features)
    inside = assigned = None
    if source.X_array is not None:
        inside = _inside(source, components, levels)
        if hasattr(source.mixture, "predict"):
            assigned = np.asarray(source.mixture.predict(source.X))
    return Drawn(
        source,
        levels,
        components,
        chosen,
        [labels[i] for i in chosen],
        inside,
        assigned,
    )
