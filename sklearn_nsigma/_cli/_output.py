"""Output files that are never destroyed, and the output CSV's rows.

A regular file is written to a temporary file next to it and renamed over
it when complete (keeping its permissions); a symbolic link's target is
replaced that way and the link stays; standard output, FIFOs and character
devices are written directly. An existing read-only file, a folder, a
block device or a socket is refused. Every check runs before the fit, and
temporary files are removed however the run ends (see ``_signals``).
"""

import bz2
import contextlib
import gzip
import io
import lzma
import os
import stat
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass

from sklearn_nsigma._cli._args import OUTPUT_COLUMNS, CLIError
from sklearn_nsigma._cli._signals import (
    deferred_signals,
    mark_committed,
    raise_if_received,
)
from sklearn_nsigma._cli._source import split_record


@dataclass
class Target:
    """Where an output goes: 'stdout', a 'stream' (FIFO, device) or a 'file'."""

    path: str
    kind: str
    write_path: str | None = None  # the file replaced (a link's target)
    mode: int | None = None  # permissions of the file replaced

    @property
    def where(self) -> str:
        return "standard output" if self.kind == "stdout" else repr(self.path)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _check_folder(path: str, write_path: str) -> None:
    """Check that a new file can be created next to ``write_path``."""
    folder = os.path.dirname(os.path.abspath(write_path))
    if not os.path.isdir(folder):
        raise CLIError(f"cannot write {path!r}: folder {folder!r} does not exist")
    with deferred_signals():
        try:
            handle, probe = tempfile.mkstemp(prefix=".nsigma-probe.", dir=folder)
        except OSError as exc:
            raise CLIError(
                f"cannot write {path!r}: cannot create a file in {folder!r} "
                f"({exc.strerror})"
            ) from None
        os.close(handle)
        os.unlink(probe)


def check_target(path: str, inputs=()) -> Target:
    """Where ``path`` leads, checked for writing; raise CLIError if it cannot be.

    Parameters
    ----------
    path : str
        The output path, or '-' for standard output.

    inputs : sequence of str
        Files that must not be overwritten (the input).

    Returns
    -------
    target : Target
        The checked target.
    """
    if path == "-":
        return Target(path, "stdout")
    for other in inputs:
        if other not in (None, "-") and _same_file(path, other):
            raise CLIError(f"refusing to overwrite the input file {other!r}")
    if os.path.isdir(path):
        raise CLIError(f"cannot write {path!r}: it is a folder")
    if os.path.exists(path):
        info = os.stat(path)
        if stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode):
            if not os.access(path, os.W_OK):
                raise CLIError(f"cannot write {path!r}: permission denied")
            return Target(path, "stream")
        if not stat.S_ISREG(info.st_mode):
            raise CLIError(
                f"cannot write {path!r}: it is not a regular file, FIFO or "
                "character device"
            )
        if not info.st_mode & 0o222 or not os.access(path, os.W_OK):
            raise CLIError(
                f"refusing to replace {path!r}: it is read-only (make it "
                "writable, or choose another --output)"
            )
        write_path = os.path.realpath(path)
        _check_folder(path, write_path)
        return Target(path, "file", write_path, stat.S_IMODE(info.st_mode))
    write_path = os.path.realpath(path)  # a dangling link: create its target
    _check_folder(path, write_path)
    return Target(path, "file", write_path, None)


@contextlib.contextmanager
def text_writer(path: str, name: str):
    """A UTF-8 text handle on ``path``, compressed as ``name``'s extension says.

    ``.gz``, ``.bz2`` and ``.xz`` compress the stream; ``.zip`` writes an
    archive holding one file, ``name`` without ``.zip``.
    """
    extension = os.path.splitext(name)[1].lower()
    with contextlib.ExitStack() as stack:
        if extension == ".zip":
            archive = stack.enter_context(
                zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
            )
            member = zipfile.ZipInfo(
                os.path.splitext(os.path.basename(name))[0], time.localtime()[:6]
            )
            member.compress_type = zipfile.ZIP_DEFLATED
            binary = archive.open(member, "w", force_zip64=True)
        elif extension == ".gz":
            binary = gzip.open(path, "wb", compresslevel=6)  # gzip's own default
        elif extension in (".bz2", ".xz"):
            binary = {".bz2": bz2, ".xz": lzma}[extension].open(path, "wb")
        else:
            binary = open(path, "wb")  # noqa: SIM115
        stack.enter_context(binary)
        yield stack.enter_context(
            io.TextIOWrapper(binary, encoding="utf-8", newline="")
        )


class Writer:
    """Opens the targets for writing and commits them all, or none.

    Files are written to temporary files; :meth:`commit` renames them over
    the targets, putting every target back if one rename fails. Closing
    without committing removes the temporary files.
    """

    def __init__(self):
        self._temporaries = []  # (temporary, target)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        with deferred_signals():
            for temporary, _ in self._temporaries:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
            self._temporaries = []
        return False

    def temporary(self, target: Target) -> str:
        """A new temporary file for ``target``, removed unless committed."""
        folder = os.path.dirname(target.write_path)
        base = os.path.basename(target.write_path)
        with deferred_signals():
            try:
                handle, temporary = tempfile.mkstemp(
                    prefix=f".{base}.",
                    suffix=f".tmp{os.path.splitext(base)[1]}",
                    dir=folder,
                )
            except OSError as exc:
                raise CLIError(
                    f"cannot write {target.path!r}: {exc.strerror}"
                ) from None
            os.close(handle)
            self._temporaries.append((temporary, target))
        return temporary

    @contextlib.contextmanager
    def open_text(self, target: Target):
        """A text handle for ``target``: a temporary file, or the stream itself."""
        if target.kind == "stdout":
            yield sys.stdout
            sys.stdout.flush()
            return
        path = target.path if target.kind == "stream" else self.temporary(target)
        with text_writer(path, target.path) as handle:
            yield handle

    def commit(self) -> None:
        """Rename every temporary file over its target, or leave them all."""
        with deferred_signals():
            raise_if_received()
            pairs = [
                (t, target.write_path, target.mode) for t, target in self._temporaries
            ]
            commit_all(pairs)
            self._temporaries = []
            mark_committed()


def _commit(temporary: str, path: str, mode: int | None) -> None:
    """Give ``temporary`` the target's permissions and rename it to ``path``."""
    if mode is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def _set_aside(path: str) -> str:
    """A hard link to ``path`` (or a renamed copy), to put it back on failure."""
    folder = os.path.dirname(path)
    handle, backup = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=folder)
    os.close(handle)
    try:
        os.unlink(backup)
        try:
            os.link(path, backup)
        except OSError:
            os.replace(path, backup)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(backup)
        raise
    return backup


def commit_all(pairs: list) -> None:
    """Rename every (temporary, path, mode), or leave every path as it was."""
    undo, backups = [], []  # (path, its backup, or None to remove it)
    try:
        for index, (temporary, path, mode) in enumerate(pairs):
            if index < len(pairs) - 1 and os.path.lexists(path):
                backup = _set_aside(path)
                backups.append(backup)
                undo.append((path, backup))  # even if the rename below fails
                _commit(temporary, path, mode)
            else:
                _commit(temporary, path, mode)
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


def _numbers(values, decimal: str) -> list:
    """``values`` as text with 10 significant digits and ``decimal``."""
    texts = [f"{value:.10g}" for value in values.tolist()]
    return [text.replace(".", ",") for text in texts] if decimal == "," else texts


def result_fields(result, index, decimal: str) -> list:
    """The four result columns of the scored rows ``index``, as text."""
    import numpy as np

    return [
        list(map(str, result.component[index].tolist())),
        _numbers(result.distance[index], decimal),
        _numbers(result.tail_probability[index], decimal),
        np.where(result.inlier[index], "true", "false").tolist(),
    ]


class RowWriter:
    """Writes the input's rows with the result columns, block by block.

    Rows are written as read, with the result cells appended; when the
    input already has result columns (a rerun on an earlier output), each
    row is split and those cells replaced.
    """

    def __init__(self, table, result, keep: str):
        self.table, self.result, self.keep = table, result, keep
        header = table.header
        self.added = [n for n in OUTPUT_COLUMNS if n not in header]
        self.header = list(header) + self.added
        self.positions = [self.header.index(n) for n in OUTPUT_COLUMNS]
        self.n_written = 0
        self._row = 0  # next input row
        self._scored = 0  # next scored row

    def header_line(self) -> str:
        if len(self.added) == len(OUTPUT_COLUMNS):
            return self.table.delimiter.join([self.table.header_record, *self.added])
        return self._join(self.header)

    def _join(self, fields) -> str:
        import csv
        import io

        text = io.StringIO()
        csv.writer(text, delimiter=self.table.delimiter, lineterminator="").writerow(
            fields
        )
        return text.getvalue()

    def _cells(self, n: int):
        """Result columns of the next ``n`` input rows ('' for unscored rows)."""
        import numpy as np

        complete = self.table.complete
        if complete is None:
            scored = slice(self._scored, self._scored + n)
            mask = None
        else:
            mask = complete[self._row : self._row + n]
            scored = slice(self._scored, self._scored + int(mask.sum()))
        self._row += n
        self._scored = scored.stop
        columns = result_fields(self.result, scored, self.table.decimal)
        if mask is not None:
            for f, column in enumerate(columns):
                full = np.full(n, "", dtype=object)
                full[mask] = column
                columns[f] = full.tolist()
        return columns, self.result.inlier[scored], mask

    def _keep_mask(self, n: int, inlier, mask):
        import numpy as np

        if self.keep == "all":
            return None
        wanted = inlier if self.keep == "inliers" else ~inlier
        if mask is None:
            return wanted
        full = np.zeros(n, dtype=bool)
        full[np.flatnonzero(mask)] = wanted
        return full

    def lines(self, block) -> list:
        """The output lines of one block of input records."""
        n = len(block.records)
        columns, inlier, mask = self._cells(n)
        keep = self._keep_mask(n, inlier, mask)
        records = block.records
        if keep is not None:
            chosen = keep.nonzero()[0].tolist()
            records = [records[i] for i in chosen]
            columns = [[column[i] for i in chosen] for column in columns]
        self.n_written += len(records)
        d = self.table.delimiter
        if len(self.added) == len(OUTPUT_COLUMNS):
            return list(map(d.join, zip(records, *columns, strict=True)))
        out = []
        for record, *row in zip(records, *columns, strict=True):
            fields = split_record(record, d)
            fields += [""] * (len(self.header) - len(fields))
            for position, value in zip(self.positions, row, strict=True):
                fields[position] = value
            out.append(self._join(fields))
        return out

    def write(self, handle, on_block=None) -> int:
        """Write the header and every row to ``handle``; the rows written."""
        handle.write(self.header_line() + "\n")
        for block in self.table.blocks(on_block):
            lines = self.lines(block)
            if lines:
                handle.write("\n".join(lines) + "\n")
        return self.n_written
