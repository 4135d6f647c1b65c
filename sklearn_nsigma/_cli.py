"""``sklearn-nsigma``: flag the rows of a CSV file that lie outside n sigma.

Reads a CSV file with a header row, fits a Gaussian mixture to its numeric
columns, thresholds every row's Mahalanobis distance to its nearest
component, and writes the rows back with four columns added. Without an
input file it runs on the iris dataset and prints the ellipsoid report.

Files are written atomically (a temporary file in the same folder, renamed
when complete), and the input is never overwritten.
"""

import argparse
import contextlib
import csv
import io
import math
import os
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import chi2

from sklearn_nsigma._coverage import sigma_to_coverage

PROG = "sklearn-nsigma"
EXIT_OK = 0
EXIT_ERROR = 1  # bad input or a failed fit; argparse exits 2 on bad usage
EXIT_INTERRUPTED = 130

OUTPUT_COLUMNS = ("component", "mahalanobis", "tail_probability", "inlier")
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "-"})
# What a numeric cell may hold: decimal or scientific notation in ASCII
# digits, or inf/infinity/nan with an optional sign. Python's float() alone
# also takes digit-grouping underscores ("1_5" is 15) and non-ASCII digits.
NUMBER = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)",
    re.IGNORECASE,
)
DEFAULT_DEMO_PLOT = "nsigma_demo.png"
MAX_PAIRWISE_FEATURES = 6


class CLIError(Exception):
    """An error reported as one line, without a traceback."""


@dataclass
class Table:
    """A CSV file: header, rows of text and the file line of every row."""

    header: list[str]
    rows: list[list[str]]
    lines: list[int] = field(default_factory=list)
    name: str = "<input>"


# -- arguments ---------------------------------------------------------------
def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"expected a positive finite number, got {text!r}"
        )
    return value


def _open_unit_float(text: str) -> float:
    value = _positive_float(text)
    if not value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


def _unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def _contamination(text: str) -> float:
    value = _positive_float(text)
    if not value <= 0.5:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 0.5], got {text!r}")
    return value


def _n_components(text: str) -> int | str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'auto', got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'auto', got {text!r}"
        )
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``sklearn-nsigma``.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser.
    """
    from sklearn_nsigma import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Fit a Gaussian mixture to the numeric columns of a CSV file and "
            "flag the rows that lie outside the n-sigma ellipsoid of every "
            "component. The output has the input rows plus the columns "
            "component (nearest, by Mahalanobis distance), mahalanobis (the "
            "distance to it, in sigmas), tail_probability "
            "(chi2.sf(distance**2, n_features)) and inlier (true/false); "
            "input columns with these names are replaced. Without INPUT, runs "
            "on the built-in iris dataset, prints each component's ellipsoid "
            f"and writes a figure to {DEFAULT_DEMO_PLOT}."
        ),
        epilog=(
            "Exit status: 0 on success, 1 on bad input (missing, empty or "
            "malformed file, non-numeric or missing values in a feature "
            "column, unknown columns, fewer rows than components), 2 on bad "
            "usage."
        ),
    )
    parser.add_argument(
        "input",
        nargs="?",
        metavar="INPUT",
        help="CSV file with a header row ('-' reads standard input). Omit it "
        "to run the demo on the iris dataset.",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="output CSV file ('-' for standard output). Default: "
        "INPUT_nsigma.csv next to the input; the demo writes no CSV unless "
        "asked.",
    )
    parser.add_argument(
        "-c",
        "--columns",
        metavar="NAMES",
        help="comma-separated feature columns. Default: every column whose "
        "values are mostly numbers (other columns are passed through).",
    )
    parser.add_argument(
        "--delimiter",
        default=",",
        metavar="CHAR",
        help="field delimiter of the input and output (default: ',').",
    )
    parser.add_argument(
        "-k",
        "--n-components",
        type=_n_components,
        default=None,
        metavar="K|auto",
        help="number of mixture components, or 'auto' to choose it by BIC "
        "from 1 to --max-components. Default: auto (3 for the demo).",
    )
    parser.add_argument(
        "--max-components",
        type=_positive_int,
        default=10,
        metavar="K",
        help="largest number of components tried by 'auto' (default: 10).",
    )
    parser.add_argument(
        "--covariance-type",
        choices=("full", "tied", "diag", "spherical"),
        default="full",
        help="covariance type of the components (default: full).",
    )
    threshold = parser.add_mutually_exclusive_group()
    threshold.add_argument(
        "-n",
        "--n-sigma",
        type=_positive_float,
        default=None,
        metavar="N",
        help="inliers lie within N sigmas (Mahalanobis distance) of a "
        "component (default: 3).",
    )
    threshold.add_argument(
        "--coverage",
        type=_open_unit_float,
        default=None,
        metavar="P",
        help="threshold at the radius whose ellipsoid holds the fraction P of "
        "a Gaussian component (chi-square with n_features degrees of "
        "freedom), e.g. 0.9973.",
    )
    threshold.add_argument(
        "--contamination",
        type=_contamination,
        default=None,
        metavar="F",
        help="flag the fraction F of the rows farthest from their nearest "
        "component, in (0, 0.5].",
    )
    parser.add_argument(
        "--min-weight",
        type=_unit_float,
        default=None,
        metavar="W",
        help="components of weight below W do not make rows inliers, e.g. a "
        "broad component that the fit spent on scattered outliers (default: "
        "NSigmaOutlierDetector's 'auto', a small share of the rows).",
    )
    parser.add_argument(
        "--keep",
        choices=("all", "inliers", "outliers"),
        default="all",
        help="rows written to the output (default: all).",
    )
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        help="write a figure of the ellipses (2 features), ellipsoids (3) or "
        "pairwise marginal ellipses (more), with the coverage diagnostic. "
        "Needs matplotlib: pip install 'sklearn-nsigma[plot]'.",
    )
    parser.add_argument(
        "--no-plot",
        action="store_true",
        help=f"do not write the demo figure ({DEFAULT_DEMO_PLOT}).",
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="also print each component's ellipsoid and the coverage table "
        "(always printed by the demo).",
    )
    parser.add_argument(
        "--n-init",
        type=_positive_int,
        default=1,
        metavar="N",
        help="initialisations of each mixture fit (default: 1).",
    )
    parser.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="SEED",
        help="seed of the mixture fits (default: 0).",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show the progress of the fits on standard error, and tracebacks.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    return parser


# -- reading -----------------------------------------------------------------
def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CLIError(
            f"{name} is not UTF-8 text (byte {exc.start} cannot be decoded)"
        ) from None


def read_table(path: str, delimiter: str = ",") -> Table:
    """Read a CSV file with a header row.

    Parameters
    ----------
    path : str
        File to read, or '-' for standard input.

    delimiter : str, default=','
        Field delimiter.

    Returns
    -------
    table : Table
        The header and the data rows (blank lines skipped).

    Raises
    ------
    CLIError
        If the file is missing, unreadable, empty, has no data rows, or has
        rows whose number of fields differs from the header's.
    """
    if path == "-":
        name = "standard input"
        data = sys.stdin.buffer.read()
    else:
        name = repr(path)
        if not os.path.exists(path):
            raise CLIError(f"input file {name} does not exist")
        if os.path.isdir(path):
            raise CLIError(f"input {name} is a directory, not a CSV file")
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise CLIError(f"cannot read {name}: {exc.strerror}") from None
    text = _decode(data, name)
    if not text.strip():
        raise CLIError(f"input {name} is empty")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
        while not any(cell.strip() for cell in header):
            header = next(reader)
        header = [cell.strip() for cell in header]
        rows, lines = [], []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise CLIError(
                    f"line {reader.line_num} of {name} has {len(row)} fields, "
                    f"the header has {len(header)}"
                )
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise CLIError(f"{name} is not valid CSV: {exc}") from None
    if not rows:
        raise CLIError(f"input {name} has a header row but no data rows")
    return Table(header=header, rows=rows, lines=lines, name=name)


def _parse_number(text: str) -> float | None:
    """The finite float in ``text``, NaN if missing, None if not a number."""
    stripped = text.strip()
    if stripped.lower() in MISSING:
        return math.nan
    if NUMBER.fullmatch(stripped) is None:
        return None
    return float(stripped)


def select_features(table: Table, columns: str | None) -> list[int]:
    """Indices of the feature columns.

    Parameters
    ----------
    table : Table
        The input.

    columns : str or None
        Comma-separated column names, or None for every column whose
        non-missing values are mostly numbers (the output columns of a
        previous run excepted).

    Returns
    -------
    indices : list of int
        Column indices, in the order given.
    """
    header = table.header
    if columns is not None:
        names = [name.strip() for name in columns.split(",") if name.strip()]
        if not names:
            raise CLIError("--columns names no column")
        unknown = [name for name in names if name not in header]
        if unknown:
            raise CLIError(
                f"unknown column(s) {', '.join(map(repr, unknown))}; the header "
                f"has {', '.join(map(repr, header))}"
            )
        ambiguous = [name for name in names if header.count(name) > 1]
        if ambiguous:
            raise CLIError(f"column name(s) {ambiguous} appear more than once")
        if len(set(names)) != len(names):
            raise CLIError(f"--columns names a column twice: {columns!r}")
        return [header.index(name) for name in names]
    indices = []
    for j, name in enumerate(header):
        if name in OUTPUT_COLUMNS:
            continue
        values = [_parse_number(row[j]) for row in table.rows]
        present = [value for value in values if value is None or not math.isnan(value)]
        numbers = sum(value is not None for value in present)
        if present and numbers > len(present) / 2:
            indices.append(j)
    if not indices:
        raise CLIError(
            f"no numeric column found in {table.name}; choose columns with --columns"
        )
    return indices


def feature_matrix(table: Table, indices: list[int]) -> np.ndarray:
    """The feature columns as floats, refusing missing and non-numeric values.

    Parameters
    ----------
    table : Table
        The input.

    indices : list of int
        Feature columns.

    Returns
    -------
    X : ndarray of shape (n_rows, n_features)
        The features.
    """
    X = np.empty((len(table.rows), len(indices)))
    for i, row in enumerate(table.rows):
        for f, j in enumerate(indices):
            value = _parse_number(row[j])
            where = f"column {table.header[j]!r}, line {table.lines[i]}"
            if value is None:
                raise CLIError(f"non-numeric value {row[j]!r} in {where}")
            if math.isnan(value):
                raise CLIError(f"missing value {row[j]!r} in {where}")
            if not math.isfinite(value):
                raise CLIError(f"non-finite value {row[j]!r} in {where}")
            X[i, f] = value
    return X


# -- fitting -----------------------------------------------------------------
@contextlib.contextmanager
def _fit_messages(verbose: bool):
    """Send the fits' progress to stderr; turn warnings into one-line notes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with contextlib.redirect_stdout(sys.stderr):
            yield
    seen = set()
    for warning in caught:
        message = str(warning.message).splitlines()[0]
        if message not in seen and (verbose or len(seen) < 3):
            seen.add(message)
            print(
                f"{PROG}: warning: {warning.category.__name__}: {message}",
                file=sys.stderr,
            )


def fit_mixture(X: np.ndarray, args: argparse.Namespace, n_components):
    """Fit the mixture, choosing the number of components by BIC if 'auto'.

    Returns
    -------
    model : NSigmaGaussianMixture
        The fitted mixture.

    bics : dict of int to float
        The BIC of every number of components tried (empty unless 'auto').
    """
    from sklearn_nsigma._mixture import NSigmaGaussianMixture

    n_samples = X.shape[0]
    params = {
        "covariance_type": args.covariance_type,
        "n_init": args.n_init,
        "random_state": args.random_state,
        "verbose": 2 if args.verbose else 0,
        "verbose_interval": 10,
    }
    if n_components != "auto":
        if n_components > n_samples:
            raise CLIError(
                f"--n-components {n_components} needs at least {n_components} "
                f"rows, got {n_samples}"
            )
        return NSigmaGaussianMixture(n_components, **params).fit(X), {}
    candidates = range(1, min(args.max_components, n_samples) + 1)
    bics, models = {}, {}
    for k in candidates:
        if args.verbose:
            print(f"{PROG}: fitting {_plural(k, 'component')}", file=sys.stderr)
        model = NSigmaGaussianMixture(k, **params).fit(X)
        bics[k] = float(model.bic(X))
        models[k] = model
        if args.verbose:
            print(f"{PROG}: K={k} BIC={bics[k]:.2f}", file=sys.stderr)
    best = min(bics, key=bics.get)
    return models[best], bics


def make_detector(model, X: np.ndarray, args: argparse.Namespace):
    """The outlier detector around the fitted mixture, thresholded as asked."""
    from sklearn.frozen import FrozenEstimator

    from sklearn_nsigma._detector import NSigmaOutlierDetector

    detector = NSigmaOutlierDetector(
        FrozenEstimator(model),
        n_sigma=3.0 if args.n_sigma is None else args.n_sigma,
        coverage=args.coverage,
        contamination=args.contamination,
        min_weight="auto" if args.min_weight is None else args.min_weight,
    )
    return detector.fit(X)


@dataclass
class Result:
    """What the tool computed for every row."""

    component: np.ndarray
    distance: np.ndarray
    tail_probability: np.ndarray
    inlier: np.ndarray


def score_rows(detector, X: np.ndarray) -> Result:
    """Nearest eligible component, its distance, tail probability, inlier flag.

    The inlier flag is the detector's ``predict(X) == 1``, taken from the
    distances already computed: an inlier has ``decision_function(x) =
    score_samples(x) - offset_ >= 0``, with ``score_samples(x)`` minus the
    distance to the nearest eligible component.
    """
    distances = np.asarray(detector.transform(X), dtype=np.float64)
    eligible = np.asarray(detector.eligible_components_, dtype=bool)
    masked = np.where(eligible, distances, np.inf)
    component = masked.argmin(axis=1)
    distance = masked[np.arange(X.shape[0]), component]
    return Result(
        component=component,
        distance=distance,
        tail_probability=chi2.sf(distance**2, X.shape[1]),
        inlier=(-distance - detector.offset_) >= 0,
    )


# -- writing -----------------------------------------------------------------
def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _temporary_path(path: str) -> str:
    """A new empty file next to ``path``, with the same extension."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CLIError(f"cannot write {path!r}: folder {directory!r} does not exist")
    base = os.path.basename(path)
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{base}.", suffix=f".tmp{os.path.splitext(base)[1]}", dir=directory
        )
    except OSError as exc:
        raise CLIError(f"cannot write {path!r}: {exc.strerror}") from None
    os.close(handle)
    return temporary


def _commit(temporary: str, path: str) -> None:
    """Give ``temporary`` the default permissions and rename it to ``path``."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    os.replace(temporary, path)


def _set_aside(path: str) -> str:
    """Keep the current ``path`` under a new name, to put it back on failure.

    A regular file gets a second hard link, so ``path`` never goes missing;
    anything else (a symbolic link, or a file system without hard links) is
    renamed.
    """
    backup = _temporary_path(path)
    try:
        if not os.path.islink(path):
            os.unlink(backup)
            try:
                os.link(path, backup)
                return backup
            except OSError:
                pass
        os.replace(path, backup)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(backup)
        raise
    return backup


def _commit_all(pairs: list[tuple[str, str]]) -> None:
    """Rename every (temporary, path) pair, or leave every path as it was."""
    undo = []  # (path, what to put back there: a backup, or None to remove)
    backups = []
    try:
        for index, (temporary, path) in enumerate(pairs):
            if index < len(pairs) - 1 and os.path.lexists(path):
                backup = _set_aside(path)
                backups.append(backup)
                undo.append((path, backup))  # even if the rename below fails
                _commit(temporary, path)
            else:
                _commit(temporary, path)
                undo.append((path, None))
    except BaseException:
        for path, backup in reversed(undo):
            with contextlib.suppress(OSError):
                if backup is None:
                    os.unlink(path)
                else:
                    os.replace(backup, path)
        raise
    finally:
        for backup in backups:
            with contextlib.suppress(OSError):
                os.unlink(backup)


def _format_float(value: float) -> str:
    return f"{value:.10g}"


def output_rows(table: Table, result: Result, keep: str):
    """Header and rows of the output: the input columns plus the results."""
    header = list(table.header)
    positions = []
    for name in OUTPUT_COLUMNS:
        if name in header:
            positions.append(header.index(name))
        else:
            positions.append(len(header))
            header.append(name)
    rows = []
    for i, row in enumerate(table.rows):
        inlier = bool(result.inlier[i])
        if (keep == "inliers" and not inlier) or (keep == "outliers" and inlier):
            continue
        values = (
            str(int(result.component[i])),
            _format_float(result.distance[i]),
            _format_float(result.tail_probability[i]),
            "true" if inlier else "false",
        )
        out = list(row) + [""] * (len(header) - len(row))
        for position, value in zip(positions, values, strict=True):
            out[position] = value
        rows.append(out)
    return header, rows


def _write_csv(handle, header, rows, delimiter):
    writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)


# -- plotting ----------------------------------------------------------------
def _check_plot_path(path: str):
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


def draw_figure(plt, detector, X, feature_names, title):
    """The display that fits the dimension, next to the coverage diagnostic."""
    from sklearn_nsigma._plot import (
        CoverageDisplay,
        EllipseDisplay,
        EllipsoidDisplay,
        PairwiseEllipseDisplay,
    )

    n_features = X.shape[1]
    threshold = float(detector.threshold_)
    levels = sorted({1.0, 2.0, round(threshold, 2)})
    if n_features == 1:
        figure, ax = plt.subplots(figsize=(6, 4.5), layout="constrained")
        CoverageDisplay.from_estimator(detector, X, ax=ax)
        ax.set_title("Coverage: observed vs chi-square")
        figure.suptitle(title, fontsize="medium")
        return figure
    shown = min(n_features, MAX_PAIRWISE_FEATURES)
    size = 2.6 * (shown - 1) + 1 if n_features > 3 else 6
    figure = plt.figure(figsize=(size + 4.5, max(size, 4.5)), layout="constrained")
    left, right = figure.subfigures(1, 2, width_ratios=[size, 4.5])
    if n_features == 2:
        EllipseDisplay.from_estimator(
            detector,
            X,
            n_sigma=levels,
            ax=left.subplots(),
            xlabel=feature_names[0],
            ylabel=feature_names[1],
        )
    elif n_features == 3:
        display = EllipsoidDisplay.from_estimator(
            detector, X, n_sigma=levels, ax=left.add_subplot(projection="3d")
        )
        display.ax_.set_xlabel(feature_names[0])
        display.ax_.set_ylabel(feature_names[1])
        display.ax_.set_zlabel(feature_names[2])
        # Leave room for the axis labels, which the layout does not see in 3-D.
        display.ax_.set_box_aspect(None, zoom=0.85)
    else:
        axes = left.subplots(shown - 1, shown - 1, squeeze=False)
        display = PairwiseEllipseDisplay.from_estimator(
            detector, X, n_sigma=levels, features=list(range(shown)), ax=axes
        )
        for row in range(shown - 1):
            axes[row, 0].set_ylabel(feature_names[row + 1])
            axes[-1, row].set_xlabel(feature_names[row])
        if shown < n_features:
            left.suptitle(
                f"first {shown} of {n_features} features (choose with --columns)",
                fontsize="small",
            )
    coverage_ax = right.subplots()
    coverage_ax.set_box_aspect(1)
    CoverageDisplay.from_estimator(detector, X, ax=coverage_ax)
    coverage_ax.set_title("Coverage: observed vs chi-square", fontsize="medium")
    figure.suptitle(title, fontsize="medium")
    return figure


# -- summary -----------------------------------------------------------------
def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def summary(
    args, table, features, model, bics, detector, result, n_written, output, plot
):
    """The lines printed at the end of a run."""
    n_rows, n_features = len(table.rows), len(features)
    names = ", ".join(table.header[j] for j in features)
    lines = [
        f"input: {table.name}, {_plural(n_rows, 'row')}, "
        f"{_plural(n_features, 'feature')} ({names})"
    ]
    how = f", chosen by BIC over 1..{max(bics)}" if bics else ""
    lines.append(
        f"mixture: {_plural(model.n_components, 'component')}, "
        f"covariance_type={model.covariance_type!r}{how}"
    )
    threshold = float(detector.threshold_)
    if args.contamination is not None:
        rule = f"--contamination {args.contamination:g}"
        expected = args.contamination
        expectation = "by construction"
    else:
        rule = (
            f"--coverage {args.coverage:g}"
            if args.coverage is not None
            else f"--n-sigma {threshold:g}"
        )
        expected = 1.0 - float(sigma_to_coverage(threshold, n_features))
        expectation = (
            f"mass of a Gaussian outside {threshold:.2f} sigma in {n_features}-D, "
            f"chi2.sf({threshold:.2f}**2, {n_features})"
        )
    lines.append(f"threshold: {threshold:.3f} sigma ({rule})")
    n_out = int((~result.inlier).sum())
    lines.append(
        f"flagged: {n_out} of {n_rows} rows ({100 * n_out / n_rows:.1f} %); "
        f"expected: {100 * expected:.1f} % ({expectation})"
    )
    weights = np.asarray(model.weights_)
    eligible = np.asarray(detector.eligible_components_)
    for k in range(model.n_components):
        mine = result.component == k
        note = "" if eligible[k] else " (weight below min_weight: not used)"
        lines.append(
            f"  component {k}: weight {weights[k]:.3f}, nearest to {int(mine.sum())} "
            f"rows, {int((mine & ~result.inlier).sum())} flagged{note}"
        )
    if output is not None:
        where = "standard output" if output == "-" else repr(output)
        lines.append(f"wrote: {n_written} rows (--keep {args.keep}) to {where}")
    if plot is not None:
        lines.append(f"figure: {plot!r}")
    return lines


# -- main --------------------------------------------------------------------
def _default_output(path: str) -> str:
    stem, _ = os.path.splitext(path)
    return f"{stem}_nsigma.csv"


def run(args: argparse.Namespace) -> int:
    """Run the tool on parsed arguments; raise CLIError on bad input."""
    from sklearn_nsigma._demo import (
        DEMO_N_COMPONENTS,
        demo_table,
        demo_title,
        report,
    )

    if len(args.delimiter) != 1:
        raise CLIError(f"--delimiter must be one character, got {args.delimiter!r}")
    demo = args.input is None
    if demo:
        header, rows = demo_table()
        table = Table(header, rows, list(range(2, len(rows) + 2)), "iris (built-in)")
        output = args.output
        plot = None if args.no_plot else (args.plot or DEFAULT_DEMO_PLOT)
        n_components = args.n_components or DEMO_N_COMPONENTS
    else:
        output = args.output
        if output is None:
            output = "-" if args.input == "-" else _default_output(args.input)
        plot = args.plot
        n_components = args.n_components or "auto"
    for path, what in ((output, "output"), (plot, "figure")):
        if path not in (None, "-") and args.input not in (None, "-"):
            if _same_file(path, args.input):
                raise CLIError(f"refusing to overwrite the input file with the {what}")
    if output is not None and output != "-" and plot is not None:
        if _same_file(output, plot):
            raise CLIError("--output and --plot name the same file")
    for path in (output, plot):
        if path not in (None, "-"):
            directory = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(directory):
                raise CLIError(
                    f"cannot write {path!r}: folder {directory!r} does not exist"
                )
            if os.path.isdir(path):
                raise CLIError(f"cannot write {path!r}: it is a folder")

    plt = None
    if plot is not None:
        try:
            plt = _check_plot_path(plot)
        except CLIError:
            if not (demo and args.plot is None):
                raise
            print(
                f"{PROG}: note: no figure written; matplotlib is needed for it: "
                "pip install 'sklearn-nsigma[plot]'",
                file=sys.stderr,
            )
            plot = None

    if not demo:
        table = read_table(args.input, args.delimiter)
    features = select_features(table, args.columns)
    X = feature_matrix(table, features)
    with _fit_messages(args.verbose):
        model, bics = fit_mixture(X, args, n_components)
        detector = make_detector(model, X, args)
        result = score_rows(detector, X)

    messages = sys.stderr if output == "-" else sys.stdout
    if demo or args.report:
        title = (
            demo_title(model.n_components, *X.shape)
            if demo
            else f"NSigmaGaussianMixture(n_components={model.n_components}) on "
            f"{table.name} ({X.shape[0]} samples, {X.shape[1]} features)"
        )
        print(report(model, X, title), file=messages)
        print(file=messages)

    # Everything is computed: write to temporary files, then rename them.
    temporaries = []
    try:
        header, rows = output_rows(table, result, args.keep)
        if plot is not None:
            feature_names = [table.header[j] for j in features]
            title = (
                f"{_plural(model.n_components, 'component')}, threshold "
                f"{detector.threshold_:.2f} sigma: "
                f"{int((~result.inlier).sum())} of {len(result.inlier)} rows flagged"
            )
            figure = draw_figure(plt, detector, X, feature_names, title)
            temporary = _temporary_path(plot)
            temporaries.append((temporary, plot))
            figure.savefig(temporary, dpi=100)
            plt.close(figure)
        if output is not None and output != "-":
            temporary = _temporary_path(output)
            temporaries.append((temporary, output))
            with open(temporary, "w", newline="", encoding="utf-8") as handle:
                _write_csv(handle, header, rows, args.delimiter)
        _commit_all(temporaries)
    except BaseException:
        for temporary, _ in temporaries:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        raise
    if output == "-":
        _write_csv(sys.stdout, header, rows, args.delimiter)
        sys.stdout.flush()
    lines = summary(
        args, table, features, model, bics, detector, result, len(rows), output, plot
    )
    print("\n".join(lines), file=messages)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sklearn-nsigma`` and ``python -m sklearn_nsigma``.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments, without the program name. None reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 1 on bad input (argparse exits with 2 on bad usage).
    """
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except CLIError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of standard output went away (e.g. `| head`).
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return EXIT_OK
    except Exception as exc:
        if args.verbose:
            raise
        message = str(exc).strip().splitlines()
        detail = f": {message[0]}" if message else ""
        print(
            f"{PROG}: error: {type(exc).__name__}{detail} (--verbose for details)",
            file=sys.stderr,
        )
        return EXIT_ERROR
