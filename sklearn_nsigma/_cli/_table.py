"""The input table: its header, feature matrix and a way to re-read its rows.

Only the feature columns are kept, as one float64 matrix; the rest of each
row is read again, block by block, when the output is written. Reading a
file needs pandas (its C parser reads each block of records); the built-in
demo table does not.
"""

import io
from dataclasses import dataclass, field

import numpy as np

from sklearn_nsigma._cli._args import CLIError
from sklearn_nsigma._cli._columns import (
    PROBE_ROWS,
    Columns,
    classify,
    missing_mask,
    no_feature_error,
    parse_numbers,
    select,
)
from sklearn_nsigma._cli._source import (
    Block,
    Source,
    check_field_counts,
    iter_blocks,
    sniff_delimiter,
    split_record,
)

NA_VALUES = sorted(
    {
        v
        for t in ("", "na", "n/a", "nan", "null", "none", "-", "?")
        for v in (t, t.upper(), t.title())
    }
)
MAX_LISTED = 5
# First characters of a header line that may be a comment (the hint names them).
COMMENT_CHARACTERS = "#%"


@dataclass
class Table:
    """The input as the tool uses it.

    ``X`` holds the feature columns of the complete rows (all of them
    unless ``--missing drop``); ``complete`` says which rows those are
    (None when every row is complete).
    """

    name: str
    header: list
    header_record: str
    delimiter: str
    decimal: str
    columns: Columns
    X: np.ndarray
    n_rows: int
    size: int = 0  # bytes of the input as stored (compressed or not)
    complete: np.ndarray | None = None
    n_missing: int = 0
    blocks: object = None  # callable: the data blocks again, header excluded
    notes: list = field(default_factory=list)

    @property
    def feature_names(self) -> list:
        return [self.header[j] for j in self.columns.features]


def require_pandas():
    """Import pandas, or fail with the command that installs it."""
    try:
        import pandas
    except ImportError:
        raise CLIError(
            'reading a CSV file needs pandas: pip install "sklearn-nsigma[cli]"'
        ) from None
    return pandas


def _read_block(block: Block, n_fields: int, delimiter: str, **kwargs):
    import pandas as pd

    return pd.read_csv(
        io.StringIO("\n".join(block.records)),
        header=None,
        names=list(range(n_fields)),
        sep=delimiter,
        quotechar='"',
        engine="c",
        skip_blank_lines=False,
        index_col=False,
        **kwargs,
    )


class _Reader:
    """Reads the feature columns of every block into float64 arrays."""

    def __init__(self, name, header, delimiter, decimal, features, missing):
        self.name, self.header = name, header
        self.delimiter, self.decimal = delimiter, decimal
        self.features, self.missing = features, missing
        self.complete = []
        self.n_rows, self.n_missing, self.where_missing = 0, 0, []
        self.n_kept = 0
        # Rows go straight into one buffer. Its pages are only committed
        # when written, so a generous capacity costs no memory.
        self.buffer = np.empty((0, len(features)))

    def _cell(self, block: Block, row: int, column: int) -> str:
        return split_record(block.records[row], self.delimiter)[column]

    def _where(self, block, row, column) -> str:
        return f"column {self.header[column]!r}, line {block.lines[row]}"

    def _column(self, frame, block: Block, column: int) -> np.ndarray:
        values = frame[column]
        if values.dtype.kind in "fiu":
            numbers = values.to_numpy(dtype=np.float64)
        else:
            text = values.astype(object).where(values.notna(), "").astype(str)
            numbers = parse_numbers(text, self.decimal)
            missing = missing_mask(text)
            numbers[missing] = np.nan
            bad = np.flatnonzero(np.isnan(numbers) & ~missing)
            if bad.size:
                row = int(bad[0])
                raise CLIError(
                    f"non-numeric value {self._cell(block, row, column)!r} in "
                    f"{self._where(block, row, column)} (--exclude "
                    f"{self.header[column]!r} leaves the column out)"
                )
        infinite = np.flatnonzero(np.isinf(numbers))
        if infinite.size:
            row = int(infinite[0])
            raise CLIError(
                f"non-finite value {self._cell(block, row, column)!r} in "
                f"{self._where(block, row, column)}"
            )
        return numbers

    def add(self, block: Block) -> None:
        check_field_counts(block, len(self.header), self.delimiter, self.name)
        frame = _read_block(
            block,
            len(self.header),
            self.delimiter,
            usecols=self.features,
            decimal=self.decimal,
            na_values=NA_VALUES,
            keep_default_na=False,
        )
        X = np.empty((len(block.records), len(self.features)))
        for f, column in enumerate(self.features):
            X[:, f] = self._column(frame, block, column)
        complete = ~np.isnan(X).any(axis=1)
        if not complete.all():
            self._note_missing(block, X, complete)
        if self.missing == "drop" or complete.all():
            self._keep(X if complete.all() else X[complete])
        self.complete.append(complete)
        self.n_rows += len(block.records)

    def reserve(self, n_rows: int) -> None:
        """Make room for ``n_rows`` rows in all (an upper bound is fine)."""
        if n_rows > self.buffer.shape[0]:
            buffer = np.empty((n_rows, self.buffer.shape[1]))
            buffer[: self.n_kept] = self.buffer[: self.n_kept]
            self.buffer = buffer

    def _keep(self, X: np.ndarray) -> None:
        end = self.n_kept + X.shape[0]
        if end > self.buffer.shape[0]:
            self.reserve(max(2 * self.buffer.shape[0], end))
        self.buffer[self.n_kept : end] = X
        self.n_kept = end

    def _note_missing(self, block, X, complete) -> None:
        rows, columns = np.nonzero(np.isnan(X))
        self.n_missing += rows.size
        for row, f in zip(rows[:MAX_LISTED], columns[:MAX_LISTED], strict=True):
            if len(self.where_missing) < MAX_LISTED:
                column = self.features[f]
                self.where_missing.append(
                    f"{self.header[column]!r} line {block.lines[row]}"
                )
        if self.missing == "error":
            self.buffer = np.empty((0, len(self.features)))  # no fit will follow

    def finish(self):
        if self.n_missing and self.missing == "error":
            where = ", ".join(self.where_missing)
            more = ", ..." if self.n_missing > len(self.where_missing) else ""
            raise CLIError(
                f"{self.n_missing} missing value(s) in the feature columns of "
                f"{self.name} (column {where}{more}); skip those rows with "
                "--missing drop"
            )
        X = self.buffer[: self.n_kept]
        self.buffer = None
        complete = np.concatenate(self.complete)
        return X, (None if complete.all() else complete)


def _header(source: Source, block: Block, delimiter: str) -> tuple:
    record = block.records[0]
    header = [cell.strip() for cell in split_record(record, delimiter)]
    del block.records[0], block.lines[0]
    return header, record


def _data_blocks(source: Source, skip_rows: int):
    """The data blocks of the input again, without the header and skipped rows."""

    def blocks(on_block=None):
        first = True
        for block in _skipping(iter_blocks(source, on_block), 1, skip_rows):
            if first:
                del block.records[0], block.lines[0]
                first = False
            if block.records:
                yield block

    return blocks


def _skipping(blocks, start: int, n_rows: int):
    """``blocks`` without their records ``start`` to ``start + n_rows``.

    ``start`` is 1 when the first block still holds the header record.
    """
    for block in blocks:
        if n_rows > 0:
            stop = min(start + n_rows, len(block.records))
            n_rows -= max(stop - start, 0)
            del block.records[start:stop], block.lines[start:stop]
        start = 0
        yield block


def _probe(source: Source, blocks, header: list, delimiter: str, first: Block, skip=0):
    """The first blocks (at least :data:`PROBE_ROWS` rows) and their string cells.

    ``skip`` is the number of rows ``--skip-rows`` left out, named in the
    error when none is left.
    """
    probe_blocks, n_probe = [first], len(first.records)
    for block in blocks:
        probe_blocks.append(block)
        n_probe += len(block.records)
        if n_probe >= PROBE_ROWS:
            break
    if n_probe == 0:
        after = f" after the {skip} skipped (--skip-rows)" if skip else ""
        raise CLIError(f"input {source.name} has a header row but no data rows{after}")
    probe_blocks = [block for block in probe_blocks if block.records]
    records, lines = [], []
    for block in probe_blocks:
        try:
            check_field_counts(block, len(header), delimiter, source.name)
        except CLIError as error:
            raise _comment_hint(error, header, source) from None
        records += block.records[: PROBE_ROWS - len(records)]
        lines += block.lines[: PROBE_ROWS - len(lines)]
    probe = _read_block(
        Block(records, lines, True),
        len(header),
        delimiter,
        dtype=object,
        na_filter=False,
    )
    return probe_blocks, probe, lines


def _comment_hint(error: CLIError, header: list, source: Source) -> CLIError:
    """``error``, with a hint when the header looks like a comment line."""
    first = header[0] if header else ""
    if source.comment is None and first and first[0] in COMMENT_CHARACTERS:
        return CLIError(
            f"{error}; the header line starts with {first[0]!r}: if it is a "
            f"comment, skip such lines with --comment '{first[0]}'"
        )
    return error


def _delimiter(args, source: Source) -> str:
    delimiter = args.delimiter or sniff_delimiter(source)
    if delimiter == args.decimal:
        raise CLIError(
            f"the delimiter and the decimal separator are both {delimiter!r}: "
            "give the delimiter with --delimiter"
        )
    return delimiter


def read_table(args, progress) -> Table:
    """Read the input file named in ``args``: header, features, rows.

    Parameters
    ----------
    args : argparse.Namespace
        The options (input, delimiter, decimal, encoding, columns, exclude,
        missing).

    progress : Progress
        Where reading progress goes.

    Returns
    -------
    table : Table
        The table, with its feature matrix in original units.
    """
    require_pandas()
    source = Source(args.input, args.encoding, args.comment)
    delimiter = _delimiter(args, source)
    blocks = _skipping(
        iter_blocks(source, progress.reader(source.size)), 1, args.skip_rows
    )
    first = next(blocks, None)
    if first is None:
        raise CLIError(f"input {source.name} is empty")
    header, header_record = _header(source, first, delimiter)
    probe_blocks, probe, lines = _probe(
        source, blocks, header, delimiter, first, args.skip_rows
    )
    columns = classify(header, probe, lines, args.decimal)
    del probe
    columns = select(columns, header, args.columns, args.exclude)
    if not columns.features:
        raise no_feature_error(header, columns, source.name)
    reader = _Reader(
        source.name, header, delimiter, args.decimal, columns.features, args.missing
    )
    # A record holds at least a delimiter (or line end) per field.
    reader.reserve(source.size // len(header) + 1 if not source.compression else 0)
    for block in probe_blocks:
        reader.add(block)
    del probe_blocks
    for block in blocks:
        reader.add(block)
    X, complete = reader.finish()
    progress.done_reading(reader.n_rows)
    return Table(
        name=source.name,
        header=header,
        header_record=header_record,
        delimiter=delimiter,
        decimal=args.decimal,
        columns=columns,
        X=X,
        n_rows=reader.n_rows,
        size=source.size,
        complete=complete,
        n_missing=reader.n_missing,
        blocks=_data_blocks(source, args.skip_rows),
    )


def demo_table() -> Table:
    """The iris dataset as a table, without pandas.

    Four measurement columns and the ``species`` column, which is passed
    through untouched.
    """
    import csv

    from sklearn.datasets import load_iris

    iris = load_iris()
    header = [*iris.feature_names, "species"]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    for values, target in zip(iris.data, iris.target, strict=True):
        writer.writerow(
            [f"{value:g}" for value in values] + [iris.target_names[target]]
        )
    records = text.getvalue().splitlines()
    block = Block(records, list(range(2, len(records) + 2)), False)

    def blocks(on_block=None):
        yield block

    return Table(
        name="iris (built-in)",
        header=header,
        header_record=",".join(header),
        delimiter=",",
        decimal=".",
        columns=Columns(features=[0, 1, 2, 3], left_out=[("species", "text")]),
        X=np.array(iris.data, dtype=np.float64),
        n_rows=len(records),
        blocks=blocks,
    )
