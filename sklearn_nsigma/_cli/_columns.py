"""Which columns are features: numbers, less identifiers, labels and constants.

The decision is taken on the first rows of the file (:data:`PROBE_ROWS`):
a column is a feature when all its non-missing values there are numbers,
unless it looks like an identifier (named like id/index/key, or a unique
integer per row that counts up) or a label (named like label/class/target,
or, as the first or last column, a few distinct integers), or is constant.
Every column left out is reported with its reason; ``--columns`` and
``--exclude`` override the choice.
"""

import re
from dataclasses import dataclass, field

import numpy as np

from sklearn_nsigma._cli._args import OUTPUT_COLUMNS, CLIError

PROBE_ROWS = 20_000
MISSING_TOKENS = ("", "na", "n/a", "nan", "null", "none", "-", "?")
ID_NAMES = {"id", "ids", "index", "idx", "key", "uuid", "guid", "row", "rowid"}
ID_PATTERN = re.compile(r"(unnamed: ?\d+|.+[_ .-]id|id[_ .-].+|.+[a-z]I[dD])")
LABEL_NAMES = {"label", "labels", "class", "target", "y", "species", "category"}
LABEL_NAMES |= {"outcome", "cluster", "digit", "diagnosis", "classe", "klasse"}
MAX_LABEL_VALUES = 10
MIN_ROWS_TO_GUESS = 10  # fewer rows: only names tell identifiers and labels


@dataclass
class Columns:
    """The feature columns and every column left out, with the reason."""

    features: list
    left_out: list = field(default_factory=list)  # (name, reason)
    hints: list = field(default_factory=list)


def missing_mask(values) -> np.ndarray:
    """Which string cells (a pandas Series) count as missing."""
    return values.str.strip().str.lower().isin(MISSING_TOKENS).to_numpy()


def parse_numbers(values, decimal: str) -> np.ndarray:
    """The string cells (a pandas Series) as float64, NaN where not a number."""
    import pandas as pd

    text = values.str.strip()
    if decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    return np.array(numbers, dtype=np.float64)  # writable


def _is_identifier_name(name: str) -> bool:
    return name.strip().lower() in ID_NAMES or ID_PATTERN.fullmatch(name) is not None


def _numeric_kind(name, numbers, position, n_columns):
    """Why a fully numeric column is left out, or None for a feature."""
    n_rows = numbers.size
    integers = bool(
        np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers))
    )
    distinct = np.unique(numbers)
    if _is_identifier_name(name):
        return "identifier (by its name)"
    if (
        integers
        and n_rows >= MIN_ROWS_TO_GUESS
        and distinct.size == n_rows
        and (np.all(np.diff(numbers) > 0) or distinct[-1] - distinct[0] == n_rows - 1)
    ):
        return "identifier (a unique integer per row, counting up)"
    if name.strip().lower() in LABEL_NAMES:
        return "label (by its name)"
    if (
        integers
        and n_rows >= 2 * MIN_ROWS_TO_GUESS
        and 2 <= distinct.size <= MAX_LABEL_VALUES
        and position in (0, n_columns - 1)
    ):
        return (
            f"label ({distinct.size} distinct integer values, in the "
            f"{'first' if position == 0 else 'last'} column)"
        )
    if distinct.size == 1:
        return "constant"
    return None


def _text_reason(values, numbers, present, lines, decimal) -> tuple:
    """Why a column holding text is left out, a hint if one fits, and the
    line of its only text cell (None unless it holds exactly one)."""
    is_text = present & np.isnan(numbers)
    n_text, n_present = int(is_text.sum()), int(present.sum())
    first = int(np.flatnonzero(is_text)[0])
    example = values.iloc[first]
    hint = None
    if (
        decimal == "."
        and values[is_text].str.fullmatch(r"\s*[+-]?\d+,\d+\s*").mean() > 0.5
    ):
        hint = "numbers with decimal commas: use --decimal ,"
    if n_text <= n_present / 2 and n_text < n_present:
        reason = (
            f"mostly numbers, but {n_text} cell(s) hold text, first {example!r} "
            f"on line {lines[first]} (name it in --columns for an error at "
            "that cell)"
        )
    else:
        reason = "text"
    return reason, hint, (lines[first] if n_text == 1 < n_present else None)


def classify(header, probe, lines, decimal: str) -> Columns:
    """The feature columns chosen from the probe rows.

    Parameters
    ----------
    header : list of str
        Column names.

    probe : pandas.DataFrame
        The first rows, every cell a string, columns numbered like
        ``header``.

    lines : list of int
        File line of every probe row.

    decimal : str
        Decimal separator.

    Returns
    -------
    columns : Columns
        Features, left-out columns and hints.
    """
    columns = Columns(features=[])
    single_text_lines = []  # of the columns that hold one text cell
    for j, name in enumerate(header):
        if name in OUTPUT_COLUMNS:
            columns.left_out.append((name, "a result column (replaced)"))
            continue
        values = probe[j]
        present = ~missing_mask(values)
        if not present.any():
            columns.left_out.append((name, "empty"))
            continue
        numbers = parse_numbers(values, decimal)
        if np.isnan(numbers[present]).any():
            reason, hint, line = _text_reason(values, numbers, present, lines, decimal)
            columns.left_out.append((name, reason))
            if hint:
                columns.hints.append(f"column {name!r} looks like {hint}")
            single_text_lines.append(line)
            continue
        reason = _numeric_kind(name, numbers[present], j, len(header))
        if reason is None:
            columns.features.append(j)
        else:
            columns.left_out.append((name, reason))
    if single_text_lines and set(single_text_lines) == {lines[0]}:
        columns.hints.append(
            f"line {lines[0]} is the only text in {len(single_text_lines)} "
            "numeric column(s): if it is a row of units, skip it with --skip-rows 1"
        )
    return columns


def _names(text: str, option: str, header) -> list:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise CLIError(f"{option} names no column")
    unknown = [name for name in names if name not in header]
    if unknown:
        raise CLIError(
            f"unknown column(s) {', '.join(map(repr, unknown))} in {option}; the "
            f"header has {', '.join(map(repr, header))}"
        )
    ambiguous = sorted({name for name in names if header.count(name) > 1})
    if ambiguous:
        raise CLIError(f"column name(s) {ambiguous} appear more than once")
    if len(set(names)) != len(names):
        raise CLIError(f"{option} names a column twice: {text!r}")
    return names


def select(columns: Columns, header, chosen: str | None, excluded: str | None):
    """Apply ``--columns`` and ``--exclude`` to the automatic choice."""
    if chosen is not None:
        names = _names(chosen, "--columns", header)
        features = [header.index(name) for name in names]
        columns.left_out = [
            (name, "not in --columns")
            for j, name in enumerate(header)
            if j not in features
        ]
        columns.features = features
    if excluded is not None:
        names = _names(excluded, "--exclude", header)
        dropped = [j for j in columns.features if header[j] in names]
        columns.features = [j for j in columns.features if j not in dropped]
        columns.left_out += [(header[j], "--exclude") for j in dropped]
    return columns


def no_feature_error(header, columns: Columns, name: str) -> CLIError:
    """The error when no column is left to fit, naming the likely cause."""
    if len(header) == 1:
        found = [d for d in (";", "\t", "|", ",") if d in header[0]]
        if found:
            shown = "\\t" if found[0] == "\t" else found[0]
            return CLIError(
                f"{name} has a single column {header[0][:40]!r}: is the "
                f"delimiter {shown!r}? Give it with --delimiter '{shown}'"
            )
    if columns.hints:
        return CLIError(f"no numeric column found in {name}: {columns.hints[0]}")
    why = "; ".join(f"{n!r}: {reason}" for n, reason in columns.left_out[:4])
    return CLIError(
        f"no feature column found in {name} ({why}); choose columns with --columns"
    )
