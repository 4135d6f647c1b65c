"""The command line on real-looking files: dialects, columns, missing values,
units and small tables. Each case is a small generated file run in-process.
"""

import bz2
import csv
import gzip
import io
import lzma
import os
import zipfile

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sklearn_nsigma._cli import _table

pytest.importorskip("pandas")


def blobs(n=120, d=2, seed=0):
    rng = np.random.RandomState(seed)
    X = np.concatenate([rng.normal(0, 1, (n // 2, d)), rng.normal(6, 1, (n // 2, d))])
    X[:3] += 25  # three clear outliers
    return X.round(5)


def table_text(X, delimiter=",", decimal=".", extra=None):
    header = [f"x{j}" for j in range(X.shape[1])] + list(extra or {})
    lines = [delimiter.join(header)]
    for i, row in enumerate(X):
        cells = [f"{v:g}".replace(".", decimal) for v in row]
        cells += [str(values[i]) for values in (extra or {}).values()]
        lines.append(delimiter.join(cells))
    return "\n".join(lines) + "\n"


def flags(text):
    """The inlier column of a CSV text written by the tool."""
    dialect = csv.Sniffer().sniff(text.splitlines()[0], ",;\t|")
    rows = list(csv.reader(io.StringIO(text), dialect))
    return [row[rows[0].index("inlier")] for row in rows[1:]]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(cli, tmp_path, delimiter):
    """Check the delimiter is guessed, and the same flags come out."""
    X = blobs()
    (tmp_path / "d.csv").write_text(table_text(X, delimiter))
    status, out, err = cli("d.csv", "-k", "2", "-o", "-")
    assert status == 0, err
    header = out.splitlines()[0]
    assert header == delimiter.join(["x0", "x1", *OUTPUT])
    assert flags(out)[:3] == ["false"] * 3
    assert flags(out).count("false") == 3


OUTPUT = ["component", "mahalanobis", "tail_probability", "inlier"]


def test_tab_delimiter_as_typed(cli, tmp_path):
    """Check --delimiter '\\t' (backslash t, as typed in a shell) is a tab."""
    (tmp_path / "d.tsv").write_text(table_text(blobs(), "\t"))
    status, out, err = cli("d.tsv", "--delimiter", "\\t", "-k", "2", "-o", "-")
    assert status == 0, err
    assert out.splitlines()[0].split("\t")[-1] == "inlier"


def test_decimal_comma(cli, tmp_path):
    """Check --decimal , reads '1,5' as 1.5 and writes results the same way."""
    X = blobs()
    (tmp_path / "d.csv").write_text(table_text(X, ";", ","))
    (tmp_path / "p.csv").write_text(table_text(X, ";"))
    status, out, err = cli("d.csv", "--decimal", ",", "-k", "2", "-o", "-")
    assert status == 0, err
    status, reference, err = cli("p.csv", "-k", "2", "-o", "-")
    assert status == 0, err
    assert flags(out) == flags(reference)
    distance = out.splitlines()[1].split(";")[-3]
    assert "," in distance and "." not in distance
    assert distance.replace(",", ".") == reference.splitlines()[1].split(";")[-3]


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz", "zip", "gz-stdin"])
def test_compressed_input(cli, tmp_path, monkeypatch, kind):
    """Check gzip, bz2, xz and zip inputs, by content, also on standard input."""
    text = table_text(blobs()).encode()
    (tmp_path / "plain.csv").write_bytes(text)
    compress = {
        "gz": gzip.compress,
        "gz-stdin": gzip.compress,
        "bz2": bz2.compress,
        "xz": lzma.compress,
    }
    if kind == "zip":
        with zipfile.ZipFile(tmp_path / "d.zip", "w") as archive:
            archive.writestr("d.csv", text)
        name = "d.zip"
    else:
        name = f"d.csv.{kind.split('-')[0]}"
        (tmp_path / name).write_bytes(compress[kind](text))
    status, reference, _ = cli("plain.csv", "-k", "2", "-o", "-")
    if kind == "gz-stdin":
        monkeypatch.setattr(
            "sys.stdin", io.TextIOWrapper(io.BytesIO(compress[kind](text)))
        )
        name = "-"
    status, out, err = cli(name, "-k", "2", "-o", "-")
    assert status == 0, err
    assert out == reference
    if name != "-":
        assert not os.path.exists(tmp_path / "d_nsigma.csv")
        status, _, err = cli(name, "-k", "2")
        assert status == 0, err
        assert (tmp_path / "d_nsigma.csv").read_text() == reference


@pytest.mark.parametrize("extension", ["gz", "bz2", "xz", "zip"])
def test_compressed_output(cli, tmp_path, extension):
    """Check an output named .gz, .bz2, .xz or .zip is the plain output, compressed."""
    (tmp_path / "d.csv").write_text(table_text(blobs()))
    status, _, err = cli("d.csv", "-k", "2", "-o", "plain.csv")
    assert status == 0, err
    status, _, err = cli("d.csv", "-k", "2", "-o", f"out.csv.{extension}")
    assert status == 0, err
    path = tmp_path / f"out.csv.{extension}"
    if extension == "zip":
        with zipfile.ZipFile(path) as archive:
            assert archive.namelist() == ["out.csv"]
            data = archive.read("out.csv")
    else:
        opener = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}[extension]
        with opener(path, "rb") as handle:
            data = handle.read()
    assert data == (tmp_path / "plain.csv").read_bytes()
    assert sorted(os.listdir(tmp_path)) == sorted(["d.csv", "plain.csv", path.name])


def test_latin1_with_encoding(cli, tmp_path):
    """Check --encoding latin-1 reads a latin-1 file; the output is UTF-8."""
    names = ["Zürich" if i % 2 else "Genève" for i in range(120)]
    text = table_text(blobs(), extra={"city": names})
    (tmp_path / "d.csv").write_bytes(text.encode("latin-1"))
    status, _, err = cli("d.csv", "-k", "2")
    assert status == 1 and "--encoding latin-1" in err
    status, out, err = cli("d.csv", "-k", "2", "--encoding", "latin-1")
    assert status == 0, err
    written = (tmp_path / "d_nsigma.csv").read_text(encoding="utf-8")
    assert written.splitlines()[1].split(",")[2] == "Genève"


def test_quoted_fields_pass_through(cli, tmp_path):
    """Check quoted fields with delimiters and line breaks stay whole."""
    X = blobs()
    lines = ["x0,x1,note"]
    for i, (a, b) in enumerate(X):
        note = '"a, b\nc"' if i == 5 else f'"n{i}"'
        lines.append(f"{a:g},{b:g},{note}")
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    status, out, err = cli("d.csv", "-k", "2", "-o", "-")
    assert status == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert len(rows) == 121
    assert rows[6][2] == "a, b\nc" and len(rows[6]) == 7
    assert "left out: 'note': text" in err


def test_identifiers_and_labels_are_left_out(cli, tmp_path):
    """Check id-like and label-like numeric columns are not features."""
    X = blobs()
    n = len(X)
    extra = {
        "digit": np.arange(n) % 3,  # named like a label
        "row_id": np.arange(n) * 7 + 1000,  # named like an identifier
        "serial": np.arange(n) + 5,  # unique integers counting up
        "group": (np.arange(n) % 4) + 1,  # last column, 4 distinct integers
    }
    (tmp_path / "d.csv").write_text(table_text(X, extra=extra))
    (tmp_path / "p.csv").write_text(table_text(X))
    status, out, err = cli("d.csv", "-k", "2", "-o", "out.csv")
    assert status == 0, err
    assert "2 features (x0, x1)" in out
    assert "'digit': label (by its name)" in out
    assert "'row_id': identifier (by its name)" in out
    assert "'serial': identifier (a unique integer per row, counting up)" in out
    assert "'group': label (4 distinct integer values, in the last column)" in out
    status, _, err = cli("p.csv", "-k", "2", "-o", "plain.csv")
    assert status == 0, err
    assert flags((tmp_path / "out.csv").read_text()) == flags(
        (tmp_path / "plain.csv").read_text()
    )
    # --columns and --exclude override the choice.
    status, out, err = cli("d.csv", "-k", "2", "-o", "-", "--columns", "x0,serial")
    assert status == 0, err
    assert "2 features (x0, serial)" in err
    status, out, err = cli("d.csv", "-k", "2", "-o", "-", "--exclude", "x1")
    assert status == 0, err
    assert "1 feature (x0)" in err and "'x1': --exclude" in err


def test_stray_text_is_reported(cli, tmp_path):
    """Check a mostly numeric column with a stray word is named in the summary."""
    X = blobs()
    stray = [f"{v:g}" for v in X[:, 1] * 2]
    stray[7] = "oops"
    (tmp_path / "d.csv").write_text(table_text(X, extra={"m": stray}))
    status, out, err = cli("d.csv", "-k", "2", "-o", "o.csv")
    assert status == 0, err
    assert "'m': mostly numbers, but 1 cell(s) hold text, first 'oops' on line 9" in out
    status, out, err = cli("d.csv", "-k", "2", "-o", "o.csv", "--columns", "x0,m")
    assert status == 1
    assert err.strip() == (
        "sklearn-nsigma: error: non-numeric value 'oops' in column 'm', line 9 "
        "(--exclude 'm' leaves the column out)"
    )


def test_text_after_the_probed_rows(cli, tmp_path, monkeypatch):
    """Check a text cell past the rows that chose the columns names its line."""
    monkeypatch.setattr(_table, "PROBE_ROWS", 20)
    X = blobs()
    late = [f"{v:g}" for v in X[:, 1] * 2]
    late[50] = "oops"
    (tmp_path / "d.csv").write_text(table_text(X, extra={"m": late}))
    status, out, err = cli("d.csv", "-k", "2", "-o", "o.csv")
    assert status == 1 and out == ""
    assert err.strip() == (
        "sklearn-nsigma: error: non-numeric value 'oops' in column 'm', line 52 "
        "(--exclude 'm' leaves the column out)"
    )
    status, out, err = cli("d.csv", "-k", "2", "-o", "o.csv", "--exclude", "m")
    assert status == 0, err
    assert "  left out: 'm': --exclude" in out


def test_missing_values_error_and_drop(cli, tmp_path):
    """Check --missing error lists the cells; drop writes empty results."""
    X = blobs().astype(object)
    X[4, 0] = X[10, 1] = X[11, 1] = ""
    X[12, 0] = "NA"
    text = table_text(np.zeros((len(X), 2))).splitlines()[0] + "\n"
    text += "".join(f"{a},{b}\n" for a, b in X)
    (tmp_path / "d.csv").write_text(text)
    (tmp_path / "out.csv").write_text("earlier\n")
    status, _, err = cli("d.csv", "-k", "2", "-o", "out.csv")
    assert status == 1
    assert err.strip() == (
        "sklearn-nsigma: error: 4 missing value(s) in the feature columns of "
        "'d.csv' (column 'x0' line 6, 'x1' line 12, 'x1' line 13, 'x0' line 14); "
        "skip those rows with --missing drop"
    )
    assert (tmp_path / "out.csv").read_text() == "earlier\n"
    status, out, err = cli("d.csv", "-k", "2", "-o", "out.csv", "--missing", "drop")
    assert status == 0, err
    rows = list(csv.reader(open(tmp_path / "out.csv")))[1:]
    assert len(rows) == len(X)
    empty = [i for i, row in enumerate(rows) if row[-1] == ""]
    assert empty == [4, 10, 11, 12]
    assert all(row[2:] == ["", "", "", ""] for row in (rows[i] for i in empty))
    assert "flagged: 3 of 116 rows" in out
    assert "4 cell(s) in 4 rows, written with empty results" in out


def cli_on_lines(cli, tmp_path, lines, *args):
    """Run the tool on a file 'd.csv' made of ``lines``."""
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    return cli("d.csv", *args)


def test_comment_lines_are_skipped_with_comment(cli, tmp_path):
    """Check a '#' preamble: refused with a hint, then skipped with --comment.

    Comment lines above the header and between the rows are left out of
    the rows and of the output; errors still name the file's own lines.
    """
    X = blobs()
    lines = table_text(X).splitlines()
    lines = [
        "# exported 2026-12-01",
        "# units: m",
        *lines[:50],
        "# part 2",
        *lines[50:],
    ]
    status, _, err = cli_on_lines(cli, tmp_path, lines, "-k", "2", "-o", "-")
    assert status == 1
    assert err.strip() == (
        "sklearn-nsigma: error: line 3 of 'd.csv' has 2 fields, the header has 1; "
        "the header line starts with '#': if it is a comment, skip such lines "
        "with --comment '#'"
    )
    lines[52] = '# part 2: a 5" gap'  # a quote in a comment opens no quoted field
    status, out, err = cli_on_lines(
        cli, tmp_path, lines, "-k", "2", "-o", "-", "--comment", "#"
    )
    assert status == 0, err
    assert out.splitlines()[0] == ",".join(["x0", "x1", *OUTPUT])
    assert not any(line.startswith("#") for line in out.splitlines())
    assert flags(out)[:3] == ["false"] * 3 and flags(out).count("false") == 3
    assert len(flags(out)) == len(X)
    # a missing value after the comments is reported on its own line
    lines[60] = "," + lines[60].split(",")[1]
    status, _, err = cli_on_lines(
        cli, tmp_path, lines, "-k", "2", "-o", "-", "--comment", "#"
    )
    assert status == 1 and "(column 'x0' line 61)" in err
    status, _, err = cli("d.csv", "--comment", "")
    assert status == 2 and "expected one character such as '#'" in err
    # a header whose first name is empty (a pandas index) gets no hint
    (tmp_path / "d.csv").write_text(",x1\n1,2,3\n")
    status, _, err = cli("d.csv")
    assert status == 1
    assert err.strip().endswith("line 2 of 'd.csv' has 3 fields, the header has 2")


def test_a_row_of_units_is_hinted_and_skipped_with_skip_rows(cli, tmp_path):
    """Check a row of units under the header: a hint, then --skip-rows 1.

    The skipped rows are neither scored nor copied; later errors still
    name the file's own lines.
    """
    X = blobs()
    lines = table_text(X).splitlines()
    lines.insert(1, "m,kg")
    status, _, err = cli_on_lines(cli, tmp_path, lines, "-k", "2", "-o", "-")
    assert status == 1
    assert err.strip() == (
        "sklearn-nsigma: error: no numeric column found in 'd.csv': line 2 is "
        "the only text in 2 numeric column(s): if it is a row of units, skip it "
        "with --skip-rows 1"
    )
    status, out, err = cli("d.csv", "-k", "2", "-o", "-", "--skip-rows", "1")
    assert status == 0, err
    assert "m,kg" not in out and len(flags(out)) == len(X)
    assert flags(out)[:3] == ["false"] * 3 and flags(out).count("false") == 3
    status, out, err = cli("d.csv", "-k", "2", "-o", "-", "--skip-rows", "4")
    assert status == 0, err
    assert flags(out) == ["true"] * (len(X) - 3)  # the outliers were rows 2 to 4
    lines[60] = "," + lines[60].split(",")[1]
    status, _, err = cli_on_lines(cli, tmp_path, lines, "-o", "-", "--skip-rows", "1")
    assert status == 1 and "(column 'x0' line 61)" in err
    status, _, err = cli("d.csv", "--skip-rows", "-1")
    assert status == 2
    status, _, err = cli("d.csv", "--skip-rows", str(len(lines)))
    assert status == 1 and err.strip().endswith(
        "has a header row but no data rows after the "
        f"{len(lines)} skipped (--skip-rows)"
    )


@pytest.mark.parametrize("skip_rows", [0, 1, 7, 40])
def test_skip_rows_across_blocks(cli, tmp_path, monkeypatch, skip_rows):
    """Check --skip-rows skips the same rows when they span several blocks."""
    from sklearn_nsigma._cli import _source

    monkeypatch.setattr(_source, "BLOCK_CHARS", 64)  # a few rows per block
    X = blobs(n=200)
    (tmp_path / "d.csv").write_text(table_text(X))
    args = ("d.csv", "-k", "2", "-o", "-", "--skip-rows", str(skip_rows))
    status, out, err = cli(*args)
    assert status == 0, err
    rows = list(csv.reader(io.StringIO(out)))[1:]
    assert [float(row[0]) for row in rows] == [
        float(f"{v:g}") for v in X[skip_rows:, 0]
    ]
    assert f"{len(X) - skip_rows} rows" in err + out


def test_units_do_not_change_the_flags(cli, tmp_path):
    """Check metres and micrometres give the same flags, outlier included."""
    rng = np.random.RandomState(1)
    X = rng.normal(size=(300, 3)) * [1e-6, 1.0, 5.0] + [2e-6, 10.0, 0.0]
    X[0, 0] += 100e-6  # 100 sigma out in the tiny column only
    micrometres = X * [1e6, 1.0, 1.0]
    for name, values in (("m.csv", X), ("um.csv", micrometres)):
        with open(tmp_path / name, "w") as handle:
            handle.write("length,b,c\n")
            handle.writelines(
                ",".join(f"{v:.17g}" for v in row) + "\n" for row in values
            )
    status, metres, err = cli("m.csv", "-k", "1", "-o", "-")
    assert status == 0, err
    status, micro, err = cli("um.csv", "-k", "1", "-o", "-")
    assert status == 0, err
    assert flags(metres) == flags(micro)
    assert flags(metres)[0] == "false"
    distance = [float(line.split(",")[-3]) for line in metres.splitlines()[1:]]
    distance_um = [float(line.split(",")[-3]) for line in micro.splitlines()[1:]]
    np.testing.assert_allclose(distance, distance_um, rtol=1e-6)
    assert distance[0] > 10  # the outlier inflates the fitted variance


def test_small_table_caps_k_and_says_so(cli, tmp_path):
    """Check 16 rows of 6 features: a cheaper covariance, K capped, a note."""
    rng = np.random.RandomState(0)
    (tmp_path / "d.csv").write_text(table_text(rng.normal(size=(16, 6))))
    status, out, err = cli("d.csv", "-o", "-")
    assert status == 0, err
    assert "covariance_type='full' needs more than 27 rows per component" in err
    assert "using 'diag'" in err
    assert "mixture: 1 component, covariance_type='diag'" in err
    assert "the best K by BIC is 1, the top of the range searched (1..1)" in err
    distance = [float(line.split(",")[-3]) for line in out.splitlines()[1:]]
    assert max(distance) < 10


def test_best_k_at_the_top_is_reported(cli, tmp_path):
    """Check a note when BIC prefers the largest K tried."""
    X = blobs(200)
    (tmp_path / "d.csv").write_text(table_text(X))
    status, out, err = cli("d.csv", "--max-components", "2", "-o", "o.csv")
    assert status == 0, err
    assert "the best K by BIC is 2, the top of the range searched (1..2)" in out
    assert "raise --max-components" in out


def test_sample_rows(cli, tmp_path):
    """Check the mixture is fitted on a sample and every row is scored."""
    X = blobs(400)
    (tmp_path / "d.csv").write_text(table_text(X))
    status, out, err = cli("d.csv", "-k", "2", "--sample-rows", "100", "-o", "-")
    assert status == 0, err
    assert "fitted on a random sample of 100 rows" in err
    assert len(flags(out)) == 400
    assert_array_equal(flags(out)[:3], ["false"] * 3)
