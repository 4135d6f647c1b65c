"""The summary printed at the end of a run."""

import numpy as np

from sklearn_nsigma._cli._args import PROG
from sklearn_nsigma._cli._fit import _plural


def _threshold_lines(args, detector, n_features, n_scored, n_out):
    threshold = float(detector.threshold_)
    if args.contamination is not None:
        rule = f"--contamination {args.contamination:g}"
        expected = args.contamination
        expectation = "by construction"
    else:
        if args.coverage is not None:
            rule = f"--coverage {args.coverage:g}"
        elif args.n_sigma is not None:
            rule = f"--n-sigma {args.n_sigma:g}"
        else:
            rule = (
                "the default; change it with --n-sigma, --coverage or --contamination"
            )
        if detector.calibration == "none":
            from sklearn_nsigma._coverage import sigma_to_coverage

            expected = 1.0 - float(sigma_to_coverage(threshold, n_features))
            expectation = (
                f"mass of a Gaussian outside {threshold:.2f} sigma in "
                f"{n_features}-D, chi2.sf({threshold:.2f}**2, {n_features})"
            )
        else:
            from scipy.stats import norm

            expected = 2.0 * float(norm.sf(threshold))
            expectation = f"as unlikely as {threshold:.2f} sigma in 1-D"
    radii = np.asarray(detector.radii_)[np.asarray(detector.eligible_components_)]
    if detector.calibration == "none":
        meaning = "the raw Mahalanobis radius (--calibration none)"
    else:
        law = (
            "each component's finite-sample predictive distribution"
            if detector.calibration == "predictive"
            else "each component's Gaussian"
        )
        meaning = (
            f"equivalent 1-D sigmas under {law} (--calibration "
            f"{detector.calibration}): Mahalanobis radius "
            f"{radii.min():.2f} to {radii.max():.2f} in {n_features}-D"
        )
    return [
        f"threshold: {threshold:.3f} sigma ({rule})",
        f"  meaning: {meaning}",
        f"flagged: {n_out} of {n_scored} rows ({100 * n_out / n_scored:.1f} %); "
        f"expected: {100 * expected:.1f} % ({expectation})",
    ]


def _input_lines(table, fit, scored):
    names = ", ".join(table.feature_names)
    lines = [
        f"input: {table.name}, {_plural(table.n_rows, 'row')}, "
        f"{_plural(len(table.columns.features), 'feature')} ({names}), "
        "standardised by median and interquartile range"
    ]
    for name, reason in table.columns.left_out:
        lines.append(f"  left out: {name!r}: {reason}")
    lines.extend(f"  hint: {hint}" for hint in table.columns.hints)
    if table.complete is not None:
        n_incomplete = table.n_rows - scored
        lines.append(
            f"  missing values: {table.n_missing} cell(s) in "
            f"{_plural(n_incomplete, 'row')}, written with empty results "
            "(--missing drop)"
        )
    return lines


def summary(args, table, fit, detector, result, n_written, target, plot):
    """The lines printed at the end of a run."""
    model = fit.model
    n_scored = result.inlier.size
    lines = _input_lines(table, fit, n_scored)
    how = ""
    if fit.bics:
        how = f", K chosen by BIC over 1..{max(fit.bics)}"
        if max(fit.bics) < fit.top:
            stopped = max(fit.bics) - model.n_components
            how += f" (stopped: {stopped} larger K did not lower it)"
    if fit.n_fit_rows < n_scored:
        how += f", fitted on a random sample of {fit.n_fit_rows:,} rows"
    lines.append(
        f"mixture: {_plural(model.n_components, 'component')}, "
        f"covariance_type={model.covariance_type!r}{how}"
    )
    n_out = int((~result.inlier).sum())
    lines += _threshold_lines(
        args, detector, len(table.columns.features), n_scored, n_out
    )
    weights = np.asarray(model.weights_)
    eligible = np.asarray(detector.eligible_components_)
    for k in range(model.n_components):
        mine = result.component == k
        note = (
            "" if eligible[k] else f" (not used: {_why_not_used(weights[k], detector)})"
        )
        lines.append(
            f"  component {k}: weight {weights[k]:.3f}, nearest to {int(mine.sum())} "
            f"rows, {int((mine & ~result.inlier).sum())} flagged{note}"
        )
    lines.extend(f"{PROG}: note: {note}" for note in fit.notes)
    if target is not None:
        lines.append(f"wrote: {n_written} rows (--keep {args.keep}) to {target.where}")
    if plot is not None:
        lines.append(f"figure: {plot.path!r}")
    return lines


def _why_not_used(weight: float, detector) -> str:
    """Why a component's ellipsoid makes no sample an inlier."""
    if weight < detector.min_weight_:
        return f"weight below min_weight {detector.min_weight_:.3g}"
    # robust re-estimation: merged, no denser than uniform noise, or too
    # few samples left once trimmed
    return (
        "merged into another component, left out as background noise, or left "
        "with too few samples once its outliers were trimmed"
    )


DEMO_NEXT = (
    "To run it on your own file: python -m sklearn_nsigma data.csv "
    "(writes data_nsigma.csv; python -m sklearn_nsigma --help lists the options)"
)
