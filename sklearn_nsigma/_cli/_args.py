"""The options of ``sklearn-nsigma``: the argument parser and its value types.

Only the standard library is imported here, so that ``--help`` and
``--version`` answer without loading NumPy, scikit-learn or pandas.
"""

import argparse
import math

PROG = "sklearn-nsigma"
OUTPUT_COLUMNS = ("component", "mahalanobis", "tail_probability", "inlier")
DEFAULT_DEMO_PLOT = "nsigma_demo.png"
DEFAULT_SAMPLE_ROWS = 10_000
DELIMITER_NAMES = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";"}
DELIMITER_NAMES |= {"pipe": "|", "space": " "}


class CLIError(Exception):
    """An error reported as one line, without a traceback."""


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


def _integer(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def _n_components(text: str) -> int | str:
    if text.strip().lower() == "auto":
        return "auto"
    return _integer(text, 1, "a positive integer or 'auto'")


def _positive_int(text: str) -> int:
    return _integer(text, 1, "a positive integer")


def _non_negative_int(text: str) -> int:
    return _integer(text, 0, "a non-negative integer")


def _delimiter(text: str) -> str:
    """One character; ``\\t`` (as typed in a shell), ``tab`` and names also."""
    value = DELIMITER_NAMES.get(text.lower(), text)
    if len(value) != 1 or value in '"\r\n':
        raise argparse.ArgumentTypeError(
            f"expected one character (or \\t, tab, comma, semicolon, pipe, "
            f"space), got {text!r}"
        )
    return value


def _comment(text: str) -> str:
    """One character that is not a quote, a line end or a space."""
    if len(text) != 1 or text in '"\r\n' or text.isspace():
        raise argparse.ArgumentTypeError(
            f"expected one character such as '#', got {text!r}"
        )
    return text


def _encoding(text: str) -> str:
    import codecs

    try:
        name = codecs.lookup(text).name
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown encoding {text!r}") from None
    # A UTF-8 file may start with a byte order mark: drop it.
    return "utf-8-sig" if name == "utf-8" else name


def _add_input_options(group) -> None:
    group.add_argument(
        "input",
        nargs="?",
        metavar="INPUT",
        help="CSV file with a header row, plain or compressed (.gz, .bz2, .xz, "
        ".zip; recognised by content); '-' reads standard input. Omit it to "
        "run the demo on the iris dataset.",
    )
    group.add_argument(
        "-c",
        "--columns",
        metavar="NAMES",
        help="comma-separated feature columns. Default: the numeric columns, "
        "less those that look like identifiers or labels (the summary lists "
        "every column left out, and why).",
    )
    group.add_argument(
        "--exclude",
        metavar="NAMES",
        help="comma-separated columns never used as features.",
    )
    group.add_argument(
        "--delimiter",
        type=_delimiter,
        default=None,
        metavar="CHAR",
        help="field delimiter of the input and output, e.g. ';' or '\\t'. "
        "Default: guessed among comma, semicolon, tab and pipe.",
    )
    group.add_argument(
        "--decimal",
        choices=(".", ","),
        default=".",
        help="decimal separator of the input's numbers (default: '.').",
    )
    group.add_argument(
        "--comment",
        type=_comment,
        default=None,
        metavar="CHAR",
        help="skip the lines that start with CHAR, e.g. '#' for a preamble "
        "above the header; they are not copied to the output (default: "
        "every line is a record).",
    )
    group.add_argument(
        "--skip-rows",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="skip the first N rows after the header, e.g. 1 for a row of "
        "units; they are not copied to the output (default: 0).",
    )
    group.add_argument(
        "--encoding",
        type=_encoding,
        default="utf-8-sig",
        metavar="NAME",
        help="text encoding of the input, e.g. latin-1 (default: utf-8). The "
        "output is UTF-8.",
    )
    group.add_argument(
        "--missing",
        choices=("error", "drop"),
        default="error",
        help="missing values in the feature columns: 'error' stops and lists "
        "them; 'drop' scores the other rows and writes the incomplete ones "
        "with empty result columns (default: error).",
    )


def _add_model_options(group) -> None:
    group.add_argument(
        "-k",
        "--n-components",
        type=_n_components,
        default=None,
        metavar="K|auto",
        help="number of mixture components, or 'auto' to choose it by BIC "
        "from 1 to --max-components, never more than the rows support. "
        "Default: auto (3 for the demo).",
    )
    group.add_argument(
        "--max-components",
        type=_positive_int,
        default=10,
        metavar="K",
        help="largest number of components tried by 'auto' (default: 10).",
    )
    group.add_argument(
        "--covariance-type",
        choices=("full", "tied", "diag", "spherical"),
        default="full",
        help="covariance type of the components (default: full; a cheaper "
        "one is used, and said, when the rows are too few for it).",
    )
    group.add_argument(
        "--sample-rows",
        type=_non_negative_int,
        default=DEFAULT_SAMPLE_ROWS,
        metavar="N",
        help="fit the mixture (and choose K) on a random sample of N rows; "
        "every row is scored (default: "
        f"{DEFAULT_SAMPLE_ROWS}; 0 fits on every row).",
    )
    group.add_argument(
        "--n-init",
        type=_positive_int,
        default=1,
        metavar="N",
        help="initialisations of each mixture fit (default: 1).",
    )
    group.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="SEED",
        help="seed of the sample and the mixture fits (default: 0).",
    )


def _add_threshold_options(group) -> None:
    threshold = group.add_mutually_exclusive_group()
    threshold.add_argument(
        "-n",
        "--n-sigma",
        type=_positive_float,
        default=None,
        metavar="N",
        help="inliers lie within N sigmas of a component, in the unit that "
        "--calibration sets (default: 3).",
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
    group.add_argument(
        "--calibration",
        choices=("predictive", "chi2", "none"),
        default="predictive",
        help="what --n-sigma N means. 'predictive' (default) and 'chi2': as "
        "unlikely as N sigma in one dimension (N=3: a tail probability of "
        "0.27 %%), in any number of features; 'predictive' also allows for "
        "the components being estimated from a finite sample. 'none': the raw "
        "Mahalanobis radius (N=3 holds only 46.8 %% of a 10-D Gaussian).",
    )
    group.add_argument(
        "--min-weight",
        type=_unit_float,
        default=None,
        metavar="W",
        help="components of weight below W do not make rows inliers, e.g. a "
        "broad component that the fit spent on scattered outliers (default: "
        "NSigmaOutlierDetector's 'auto', a small share of the rows).",
    )


def _add_output_options(group) -> None:
    group.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="output CSV file ('-' for standard output; a FIFO or device is "
        "written directly, a symbolic link's target is replaced; .gz, .bz2, "
        ".xz and .zip names are compressed). Default: "
        "INPUT_nsigma.csv next to the input; the demo writes no CSV unless "
        "asked.",
    )
    group.add_argument(
        "--keep",
        choices=("all", "inliers", "outliers"),
        default="all",
        help="rows written to the output (default: all).",
    )
    group.add_argument(
        "--plot",
        metavar="FILE.png",
        help="write a figure of the ellipses (2 features), ellipsoids (3) or "
        "pairwise marginal ellipses (more), with the coverage diagnostic. "
        "Needs matplotlib: pip install 'sklearn-nsigma[plot]'.",
    )
    group.add_argument(
        "--no-plot",
        action="store_true",
        help=f"do not write the demo figure ({DEFAULT_DEMO_PLOT}).",
    )
    group.add_argument(
        "--report",
        action="store_true",
        help="also print each component's ellipsoid and the coverage table "
        "(always printed by the demo).",
    )
    verbosity = group.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print no progress (progress is printed on standard error when "
        "a run lasts more than a few seconds).",
    )
    verbosity.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print every step and the fits' progress on standard error, and "
        "tracebacks.",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``sklearn-nsigma``.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser.

    Examples
    --------
    >>> from sklearn_nsigma._cli import build_parser
    >>> args = build_parser().parse_args(["data.csv", "--delimiter", "\\\\t"])
    >>> args.input, args.delimiter, args.missing
    ('data.csv', '\\t', 'error')
    """
    from sklearn_nsigma import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Fit a Gaussian mixture to the numeric columns of a CSV file and "
            "flag the rows that lie outside the n-sigma ellipsoid of every "
            "component. The features are standardised (median and "
            "interquartile range) first, so units do not matter. The output "
            "has the input rows plus the columns component (nearest, by "
            "Mahalanobis distance), mahalanobis (the distance to it, in the "
            "model's sigmas), tail_probability (how likely a row farther out "
            "is, in the unit of --calibration) and inlier (true/false); input "
            "columns with these "
            "names are replaced. Without INPUT, runs on the built-in iris "
            f"dataset, prints each component's ellipsoid and writes a figure "
            f"to {DEFAULT_DEMO_PLOT}. Reading a CSV file needs pandas: "
            'pip install "sklearn-nsigma[cli]".'
        ),
        epilog=(
            "Exit status: 0 on success, 1 on bad input (missing, empty or "
            "malformed file, non-numeric or missing values in a feature "
            "column, unknown columns, too few rows, an output that cannot be "
            "written), 2 on bad usage, 129/130/143 when stopped by SIGHUP, "
            "SIGINT or SIGTERM (the output is then the old one, or the complete "
            "new one)."
        ),
    )
    for title, add_options in (
        ("input", _add_input_options),
        ("the mixture", _add_model_options),
        ("the threshold", _add_threshold_options),
        ("output", _add_output_options),
    ):
        add_options(parser.add_argument_group(title))
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    return parser
