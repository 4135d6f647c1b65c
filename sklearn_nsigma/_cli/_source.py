"""The input file: opening (compressed or not), its dialect, and its records.

A CSV file is read as text blocks of whole records, each record with the
file line it starts on. The same blocks are read twice: once for the
feature columns, once to write the rows back with the results appended,
so no more than a block of text is held at a time. Standard input and
other streams are first copied to an anonymous temporary file, which the
operating system removes however the process ends.
"""

import bz2
import codecs
import contextlib
import csv
import gzip
import io
import lzma
import os
import shutil
import stat
import sys
import tempfile
import zipfile
from dataclasses import dataclass

from sklearn_nsigma._cli._args import CLIError

BLOCK_CHARS = 1 << 20  # about 1 MB of text per block
SNIFF_CHARS = 1 << 16
SNIFF_LINES = 50
CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
    b"PK\x03\x04": "zip",
}


@dataclass
class Block:
    """Whole records (without line ends) and the line each one starts on."""

    records: list
    lines: list
    quoted: bool  # some record holds a quote character


class Source:
    """A readable, re-readable input: a regular file or a spooled stream.

    Parameters
    ----------
    path : str
        File to read, or '-' for standard input.

    encoding : str
        Text encoding.

    comment : str, default=None
        Lines that start with this character are skipped.
    """

    def __init__(self, path: str, encoding: str, comment: str | None = None):
        self.path = path
        self.encoding = encoding
        self.comment = comment
        self.name = "standard input" if path == "-" else repr(path)
        self._spool = None
        if path != "-":
            self._check_path()
        if path == "-" or not stat.S_ISREG(os.stat(path).st_mode):
            self._spool = tempfile.TemporaryFile()
            with self._open_raw_stream() as stream:
                shutil.copyfileobj(stream, self._spool, 1 << 20)
            self._spool.flush()
        raw = self.open_raw()
        head = raw.read(8)
        raw.close()
        self.compression = next(
            (kind for magic, kind in MAGIC.items() if head.startswith(magic)), None
        )
        self.size = self._size()

    def _check_path(self) -> None:
        path = self.path
        if not os.path.exists(path):
            raise CLIError(f"input file {self.name} does not exist")
        if os.path.isdir(path):
            raise CLIError(f"input {self.name} is a directory, not a CSV file")
        if not os.access(path, os.R_OK):
            raise CLIError(f"cannot read {self.name}: permission denied")

    def _open_raw_stream(self):
        if self.path == "-":
            return contextlib.nullcontext(sys.stdin.buffer)
        return open(self.path, "rb")  # noqa: SIM115

    def _size(self) -> int:
        if self._spool is not None:
            return self._spool.seek(0, io.SEEK_END)
        return os.path.getsize(self.path)

    def open_raw(self):
        """The stored bytes (compressed or not), from the start."""
        if self._spool is not None:
            # A second descriptor: closing it leaves the spool open.
            handle = open(os.dup(self._spool.fileno()), "rb")  # noqa: SIM115
            handle.seek(0)
            return handle
        try:
            return open(self.path, "rb")  # noqa: SIM115
        except OSError as exc:
            raise CLIError(f"cannot read {self.name}: {exc.strerror}") from None

    def open_binary(self, raw):
        """The decompressed bytes of the raw stream ``raw``."""
        kind = self.compression
        if kind == "gzip":
            return gzip.GzipFile(fileobj=raw)
        if kind == "bz2":
            return bz2.BZ2File(raw)
        if kind == "xz":
            return lzma.LZMAFile(raw)
        if kind == "zip":
            try:
                archive = zipfile.ZipFile(raw)
            except zipfile.BadZipFile as exc:
                raise CLIError(f"{self.name} is not a valid zip file: {exc}") from None
            members = [info for info in archive.infolist() if not info.is_dir()]
            if len(members) != 1:
                raise CLIError(
                    f"the zip file {self.name} holds {len(members)} files; "
                    "it must hold exactly one CSV file"
                )
            return archive.open(members[0])
        return raw

    def open_text(self):
        """A text stream of the decompressed input, and the raw byte stream."""
        raw = self.open_raw()
        text = io.TextIOWrapper(
            self.open_binary(raw), encoding=self.encoding, newline=""
        )
        return text, raw

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()


def _decode_error(source: Source, exc: UnicodeDecodeError) -> CLIError:
    """The error naming the first line that does not decode."""
    encoding = codecs.lookup(source.encoding).name.removesuffix("-sig")
    hint = "latin-1" if encoding == "utf-8" else "utf-8"
    line, byte = "?", ""
    raw = source.open_raw()
    with contextlib.closing(raw):
        for number, data in enumerate(source.open_binary(raw), start=1):
            try:
                data.decode(source.encoding)
            except UnicodeDecodeError as error:
                line, byte = (
                    number,
                    f"byte 0x{data[error.start : error.start + 1].hex()} ",
                )
                break
    return CLIError(
        f"{source.name} is not {encoding} text ({byte}on line {line}); give its "
        f"encoding with --encoding, e.g. --encoding {hint}"
    )


@contextlib.contextmanager
def _read_errors(source: Source, line: int):
    """Turn decoding and decompression errors into one-line errors."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise _decode_error(source, exc) from None
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            detail = exc.strerror
        else:
            detail = str(exc) or type(exc).__name__
        what = f"its {source.compression} data" if source.compression else "it"
        raise CLIError(
            f"cannot read {source.name} near line {line}: {what} is damaged or "
            f"truncated ({detail})"
        ) from None


def sniff_delimiter(source: Source) -> str:
    """The delimiter among comma, semicolon, tab and pipe that fits the head.

    The one that splits the first lines into the same number of fields
    (more than one) wins; ties go to the most fields, then to the order
    above. Falls back to :class:`csv.Sniffer`, then to a comma.
    """
    text, raw = source.open_text()
    with contextlib.closing(raw), _read_errors(source, 1):
        head = text.read(SNIFF_CHARS)
    lines = [line for line in head.splitlines() if line.strip()]
    if source.comment is not None:
        lines = [line for line in lines if not line.startswith(source.comment)]
    if len(head) == SNIFF_CHARS and len(lines) > 1:
        lines.pop()  # the last line may be cut
    lines = lines[:SNIFF_LINES]
    best, best_fields = None, 1
    for delimiter in CANDIDATE_DELIMITERS:
        try:
            counts = {len(row) for row in csv.reader(lines, delimiter=delimiter)}
        except csv.Error:
            continue
        if len(counts) == 1 and (fields := counts.pop()) > best_fields:
            best, best_fields = delimiter, fields
    if best is not None:
        return best
    try:
        return csv.Sniffer().sniff(head, "".join(CANDIDATE_DELIMITERS)).delimiter
    except csv.Error:
        return ","


def iter_blocks(source: Source, on_block=None):
    """Blocks of whole, non-blank records of the input, header first.

    Parameters
    ----------
    source : Source
        The input.

    on_block : callable, default=None
        Called with the raw bytes read so far after each block.

    Yields
    ------
    block : Block
        Records and their first lines. Records that hold a quote character
        may span lines (a quoted field with a line break).
    """
    text, raw = source.open_text()
    line = 0
    with contextlib.closing(raw), contextlib.closing(text):
        carry, pending = "", None
        while True:
            with _read_errors(source, line + 1):
                chunk = text.read(BLOCK_CHARS)
            if chunk:
                parts = (carry + chunk).split("\n")
                carry = parts.pop()
            else:
                parts = [carry] if carry else []
            block, pending = _records(parts, line, pending, source.comment)
            line += len(parts)
            if on_block is not None:
                on_block(raw.tell())
            if block.records:
                yield block
            if not chunk:
                break
        if pending is not None:
            raise CLIError(
                f"{source.name} ends inside a quoted field that starts on line "
                f"{pending[0]}"
            )


def _records(parts: list, line: int, pending, comment=None):
    """Whole records of the lines ``parts`` (after line ``line``).

    Blank lines, and lines that start with ``comment`` outside a quoted
    field, are left out (a quote in a comment opens no field).
    """
    joined_has_quote = pending is not None or any('"' in part for part in parts)
    if not joined_has_quote:
        parts = [part[:-1] if part.endswith("\r") else part for part in parts]
        keep = [
            i
            for i, part in enumerate(parts)
            if part
            and not part.isspace()
            and (comment is None or not part.startswith(comment))
        ]
        if len(keep) == len(parts):
            return Block(
                parts, list(range(line + 1, line + 1 + len(parts))), False
            ), None
        return Block(
            [parts[i] for i in keep], [line + 1 + i for i in keep], False
        ), None
    records, lines = [], []
    for offset, part in enumerate(parts):
        if part.endswith("\r"):
            part = part[:-1]
        odd = part.count('"') % 2 == 1
        if pending is not None:
            pending[1].append(part)
            if odd:
                records.append("\n".join(pending[1]))
                lines.append(pending[0])
                pending = None
        elif not part or part.isspace():
            continue
        elif comment is not None and part.startswith(comment):
            continue
        elif odd:
            pending = (line + 1 + offset, [part])
        else:
            records.append(part)
            lines.append(line + 1 + offset)
    return Block(records, lines, True), pending


def split_record(record: str, delimiter: str) -> list:
    """The fields of one record."""
    return next(csv.reader([record], delimiter=delimiter, strict=False))


def check_field_counts(block: Block, n_fields: int, delimiter: str, name: str):
    """Refuse any record whose number of fields differs from the header's."""
    if not block.quoted:
        counts = [record.count(delimiter) for record in block.records]
        if min(counts) == max(counts) == n_fields - 1:
            return
        counts = [count + 1 for count in counts]
    else:
        counts = [len(split_record(record, delimiter)) for record in block.records]
    for count, line in zip(counts, block.lines, strict=True):
        if count != n_fields:
            raise CLIError(
                f"line {line} of {name} has {count} "
                f"field{'s' if count != 1 else ''}, the header has {n_fields}"
            )
