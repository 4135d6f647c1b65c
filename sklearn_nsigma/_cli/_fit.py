"""Standardise, fit the mixture (choosing K by BIC), score through the detector.

The features are standardised robustly (median and interquartile range)
before fitting, so a column's unit does not change the flags. The mixture
is fitted on a random sample of rows (every row of a small table), with no
more components than the rows support; every row is then scored through
:class:`~sklearn_nsigma.NSigmaOutlierDetector`'s public methods.
"""

import copy
from dataclasses import dataclass, field

import numpy as np

from sklearn_nsigma._cli._args import CLIError

SCORE_CHUNK_ROWS = 65_536
PATIENCE = 3  # K search: stop after this many K without a lower BIC
SCALE_SAMPLE_ROWS = 100_000
CHEAPER = {"full": ("diag", "spherical"), "tied": ("diag", "spherical")}
CHEAPER |= {"diag": ("spherical",), "spherical": ()}


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def standardise(X: np.ndarray, random_state: int):
    """Centre on the median, divide by the interquartile range, in place.

    A column with no interquartile range is divided by its standard
    deviation, and a constant column by 1. Medians and quartiles come from
    at most :data:`SCALE_SAMPLE_ROWS` random rows.

    Returns
    -------
    center, scale : ndarray of shape (n_features,)
        ``X_original = X * scale + center``.
    """
    sample = X
    if X.shape[0] > SCALE_SAMPLE_ROWS:
        rng = np.random.default_rng(random_state)
        sample = X[np.sort(rng.choice(X.shape[0], SCALE_SAMPLE_ROWS, replace=False))]
    q1, center, q3 = np.percentile(sample, [25, 50, 75], axis=0)
    scale = q3 - q1
    flat = scale <= 0
    if flat.any():
        scale[flat] = sample[:, flat].std(axis=0)
        scale[scale <= 0] = 1.0
    X -= center
    X /= scale
    return center, scale


def n_parameters(covariance_type: str, k: int, d: int) -> int:
    """Free parameters of the means and covariances of ``k`` components."""
    return {
        "full": k * d * (d + 3) // 2,
        "tied": k * d + d * (d + 1) // 2,
        "diag": 2 * k * d,
        "spherical": k * (d + 1),
    }[covariance_type]


def max_components(n_rows: int, d: int, covariance_type: str) -> int:
    """Largest K whose means and covariances are fewer than the rows."""
    k = 0
    while n_parameters(covariance_type, k + 1, d) < n_rows:
        k += 1
    return k


@dataclass
class Fit:
    """The fitted mixture and how it was chosen."""

    model: object
    bics: dict = field(default_factory=dict)
    n_fit_rows: int = 0
    covariance_type: str = "full"
    notes: list = field(default_factory=list)
    top: int | None = None  # the largest K searched


def _covariance_type(requested: str, n: int, d: int, notes: list) -> str:
    if max_components(n, d, requested) >= 1:
        return requested
    for cheaper in CHEAPER[requested]:
        if max_components(n, d, cheaper) >= 1:
            notes.append(
                f"covariance_type={requested!r} needs more than "
                f"{n_parameters(requested, 1, d)} rows per component with "
                f"{_plural(d, 'feature')}, the fit has {n}: using {cheaper!r}"
            )
            return cheaper
    raise CLIError(
        f"{_plural(n, 'row')} are too few for a mixture of {_plural(d, 'feature')}: "
        f"one component needs more than {n_parameters('spherical', 1, d)} rows "
        "(spherical covariance)"
    )


def _sample(Z: np.ndarray, sample_rows: int, random_state: int) -> np.ndarray:
    if not sample_rows or Z.shape[0] <= sample_rows:
        return Z
    rng = np.random.default_rng(random_state)
    return Z[np.sort(rng.choice(Z.shape[0], sample_rows, replace=False))]


def fit_mixture(Z: np.ndarray, args, n_components, progress) -> Fit:
    """Fit the mixture to the standardised ``Z``, choosing K by BIC if 'auto'.

    Only the best model is kept. K never exceeds what the fitted rows
    support; a cheaper covariance type is used when even one component of
    the requested type is not supported.
    """
    from sklearn_nsigma._mixture import NSigmaGaussianMixture

    if n_components != "auto" and n_components > Z.shape[0]:
        raise CLIError(
            f"--n-components {n_components} needs at least {n_components} "
            f"rows, got {Z.shape[0]}"
        )
    S = _sample(Z, args.sample_rows, args.random_state)
    n, d = S.shape
    notes = []
    covariance_type = _covariance_type(args.covariance_type, n, d, notes)
    cap = max_components(n, d, covariance_type)
    params = {
        "covariance_type": covariance_type,
        "n_init": args.n_init,
        "random_state": args.random_state,
        "verbose": 2 if args.verbose else 0,
        "verbose_interval": 10,
    }
    if n < Z.shape[0]:
        progress.step(f"fitting on a random sample of {n:,} of {Z.shape[0]:,} rows")
    if n_components != "auto":
        if n_components > cap:
            notes.append(
                f"{_plural(n_components, 'component')} with "
                f"covariance_type={covariance_type!r} need more than "
                f"{n_parameters(covariance_type, n_components, d)} rows, the fit has "
                f"{n}: the distances are unreliable (at most {cap} supported)"
            )
        progress.step(f"fitting {_plural(n_components, 'component')}")
        model = NSigmaGaussianMixture(n_components, **params).fit(S)
        return Fit(model, {}, n, covariance_type, notes, n_components)
    top = min(args.max_components, cap)
    best, bics = _search(S, params, top, progress)
    if best.n_components == top and (top > 1 or top < args.max_components):
        why = (
            f"no more are supported by {_plural(n, 'row')}"
            if top < args.max_components
            else "raise --max-components to try more"
        )
        notes.append(
            f"the best K by BIC is {best.n_components}, the top of the range "
            f"searched (1..{top}): {why}"
        )
    return Fit(best, bics, n, covariance_type, notes, top)


def _search(S, params, top, progress):
    """The mixture of lowest BIC over K = 1..top; only the best is kept.

    The search stops once :data:`PATIENCE` successive K have not lowered
    the BIC.
    """
    from sklearn_nsigma._mixture import NSigmaGaussianMixture

    best, bics = None, {}
    for k in range(1, top + 1):
        progress.step(f"fitting {_plural(k, 'component')} (K by BIC, 1..{top})")
        model = NSigmaGaussianMixture(k, **params).fit(S)
        bics[k] = float(model.bic(S))
        progress.detail(f"K={k} BIC={bics[k]:.2f}")
        if best is None or bics[k] < bics[best.n_components]:
            best = model
        elif k - best.n_components >= PATIENCE:
            break
    return best, bics


def make_detector(model, Z: np.ndarray, args):
    """The outlier detector around the fitted mixture, thresholded as asked."""
    from sklearn.frozen import FrozenEstimator

    from sklearn_nsigma._detector import NSigmaOutlierDetector

    detector = NSigmaOutlierDetector(
        FrozenEstimator(model),
        n_sigma=3.0 if args.n_sigma is None else args.n_sigma,
        calibration=args.calibration,
        coverage=args.coverage,
        contamination=args.contamination,
        min_weight="auto" if args.min_weight is None else args.min_weight,
    )
    # The rows the mixture was fitted on: the predictive calibration counts
    # each component's training samples from them.
    return detector.fit(_sample(Z, args.sample_rows, args.random_state))


@dataclass
class Result:
    """What the tool computed for every scored row."""

    component: np.ndarray
    distance: np.ndarray
    tail_probability: np.ndarray
    inlier: np.ndarray


def score_rows(
    detector, Z: np.ndarray, chunk_rows: int = SCORE_CHUNK_ROWS, on_chunk=None
) -> Result:
    """Nearest eligible component, distance, tail probability, inlier flag.

    Everything comes from the detector's public methods, a chunk of rows
    at a time: ``transform`` (the Mahalanobis distance to every component;
    the nearest of ``eligible_components_`` and the distance to it are
    reported), ``score_samples`` (the tail probability: ``chi2.sf(d**2,
    n_features)`` with ``calibration="none"``, else twice the normal tail of
    the equivalent one-dimensional sigmas) and ``predict`` (the inlier
    flag). ``on_chunk``, if given, is called with the rows scored so far.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture
    >>> from sklearn_nsigma import NSigmaOutlierDetector
    >>> from sklearn_nsigma._cli import score_rows
    >>> X = np.random.RandomState(0).normal(size=(200, 2))
    >>> detector = NSigmaOutlierDetector(GaussianMixture(random_state=0)).fit(X)
    >>> result = score_rows(detector, np.array([[0.0, 0.0], [5.0, 5.0]]))
    >>> result.inlier.tolist(), result.component.tolist()
    ([True, False], [0, 0])
    """
    from scipy.stats import chi2, norm

    n = Z.shape[0]
    component = np.empty(n, dtype=np.int32)
    distance = np.empty(n)
    tail = np.empty(n)
    inlier = np.empty(n, dtype=bool)
    eligible = np.asarray(detector.eligible_components_, dtype=bool)
    for start in range(0, n, chunk_rows):
        rows = slice(start, start + chunk_rows)
        distances = np.asarray(detector.transform(Z[rows]), dtype=np.float64)
        distances[:, ~eligible] = np.inf
        component[rows] = distances.argmin(axis=1)
        distance[rows] = distances.min(axis=1)
        if detector.calibration == "none":
            tail[rows] = chi2.sf(distance[rows] ** 2, Z.shape[1])
        else:  # the detector's scores are equivalent one-dimensional sigmas
            tail[rows] = 2.0 * norm.sf(-np.asarray(detector.score_samples(Z[rows])))
        inlier[rows] = detector.predict(Z[rows]) == 1
        if on_chunk is not None:
            on_chunk(min(start + chunk_rows, n))
    return Result(component, distance, tail, inlier)


def in_original_units(model, center: np.ndarray, scale: np.ndarray):
    """A copy of ``model`` whose means and covariances are in original units.

    Spherical components are not spherical in original units: they become
    diagonal.
    """
    from sklearn_nsigma._geometry import (
        ellipsoid_params,
        precisions_cholesky_from_covariances,
    )

    original = copy.deepcopy(model)
    covariance_type = model.covariance_type
    covariances = np.asarray(model.covariances_)
    if covariance_type == "full":
        covariances = covariances * np.outer(scale, scale)[None]
    elif covariance_type == "tied":
        covariances = covariances * np.outer(scale, scale)
    elif covariance_type == "diag":
        covariances = covariances * scale**2
    else:
        covariances = covariances[:, None] * scale**2
        covariance_type = "diag"
    factors = precisions_cholesky_from_covariances(covariances, covariance_type)
    original.covariance_type = covariance_type
    original.means_ = np.asarray(model.means_) * scale + center
    original.covariances_ = covariances
    original.precisions_cholesky_ = factors
    if covariance_type in ("full", "tied"):
        original.precisions_ = factors @ np.swapaxes(factors, -1, -2)
    else:
        original.precisions_ = factors**2
    original.ellipsoid_params_ = ellipsoid_params(
        original.means_, covariances, covariance_type
    )
    return original


def original_detector(model, detector, X_fit: np.ndarray):
    """A detector in original units that flags the rows as ``detector`` does.

    ``X_fit`` is, in original units, the sample ``detector`` was fitted on:
    Mahalanobis distances do not change with the units, and the same rows
    give the calibration the same sample sizes, hence the same radii.
    """
    from sklearn.frozen import FrozenEstimator

    from sklearn_nsigma._detector import NSigmaOutlierDetector

    return NSigmaOutlierDetector(
        FrozenEstimator(model),
        n_sigma=float(detector.threshold_),
        calibration=detector.calibration,
        min_weight=float(detector.min_weight_),
    ).fit(X_fit)
