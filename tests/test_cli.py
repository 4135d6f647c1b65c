"""The ``sklearn-nsigma`` command-line tool.

The end-to-end tests run ``python -m sklearn_nsigma`` as a subprocess; the
variations of options and inputs call the same ``main(argv)`` in-process,
which is much faster (no interpreter start-up and imports per case).
"""

import csv
import io
import os
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import chi2, norm
from sklearn.frozen import FrozenEstimator

from sklearn_nsigma import (
    NSigmaGaussianMixture,
    NSigmaOutlierDetector,
    coverage_to_sigma,
)
from sklearn_nsigma._cli import _columns, _output, score_rows

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_cli(*args, cwd, env=None, stdin=None):
    """Run ``python -m sklearn_nsigma ARGS`` in ``cwd`` (quiet unless -v)."""
    if "-v" not in args and args:
        args = (*args, "-q")
    environment = {**os.environ, "MPLBACKEND": "Agg", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "sklearn_nsigma", *map(str, args)],
        cwd=cwd,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def read_csv(path):
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def make_data(n_features, seed=0):
    rng = np.random.RandomState(seed)
    A = rng.normal(size=(n_features, n_features))
    X = np.concatenate(
        [
            rng.multivariate_normal(np.zeros(n_features), A @ A.T + 0.5, 120),
            rng.normal(8, 1, (80, n_features)),
            rng.uniform(-12, 20, (6, n_features)),
        ]
    )
    return X.round(4)


def write_csv(path, X, extra=True):
    """X with an id column first and a text label column last."""
    names = [f"f{j}" for j in range(X.shape[1])]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", *names, "label"] if extra else names)
        for i, row in enumerate(X):
            values = [f"{v:g}" for v in row]
            writer.writerow(
                [f"r{i}", *values, "a" if i % 2 else "b"] if extra else values
            )
    return path


@pytest.fixture
def data2(tmp_path):
    X = make_data(2)
    return X, write_csv(tmp_path / "data.csv", X)


def test_demo_prints_report_and_writes_figure(tmp_path):
    """Check the README's first command: report, summary and figure."""
    result = run_cli(cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "on the iris dataset (150 samples, 4 features)" in out
    assert "Component 2 (weight" in out and "1-sigma radii" in out
    assert "Samples within n sigma of their own component (d = 4)" in out
    assert "mixture: 3 components, covariance_type='full'" in out
    assert "flagged: " in out and "expected: 0.3 % (as unlikely as 3.00" in out
    figure = tmp_path / "nsigma_demo.png"
    assert figure.read_bytes()[:8] == PNG_MAGIC
    assert sorted(os.listdir(tmp_path)) == ["nsigma_demo.png"]


def test_demo_csv_output_keeps_other_columns(cli, tmp_path):
    """Check the demo's CSV: iris rows, species kept, four columns added."""
    status, out, err = cli("--no-plot", "-o", "iris.csv", "--contamination", "0.1")
    assert status == 0, err
    assert sorted(os.listdir(tmp_path)) == ["iris.csv"]
    header, rows = read_csv(tmp_path / "iris.csv")
    assert header[4:] == ["species", *OUTPUT]
    assert len(rows) == 150
    assert {row[4] for row in rows} == {"setosa", "versicolor", "virginica"}
    assert sum(row[-1] == "false" for row in rows) == 15
    assert "Component 0" in out


def test_csv_output_values(data2, tmp_path):
    """Check every added column against the library, and the input untouched."""
    X, path = data2
    before = path.read_bytes()
    result = run_cli(
        path,
        "-k",
        "2",
        "-n",
        "2.5",
        "--calibration",
        "none",
        "-o",
        "out.csv",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert path.read_bytes() == before
    header, rows = read_csv(tmp_path / "out.csv")
    assert header == ["id", "f0", "f1", "label", *OUTPUT]
    assert [row[0] for row in rows] == [f"r{i}" for i in range(len(X))]
    assert [row[3] for row in rows] == ["a" if i % 2 else "b" for i in range(len(X))]

    q1, median, q3 = np.percentile(X, [25, 50, 75], axis=0)
    Z = (X - median) / (q3 - q1)
    gmm = NSigmaGaussianMixture(n_components=2, random_state=0).fit(Z)
    distances = gmm.mahalanobis(Z)
    component = np.array([int(row[4]) for row in rows])
    distance = np.array([float(row[5]) for row in rows])
    tail = np.array([float(row[6]) for row in rows])
    inlier = np.array([row[7] for row in rows])
    assert_array_equal(component, distances.argmin(axis=1))
    assert_allclose(distance, distances.min(axis=1), rtol=1e-8)
    assert_allclose(tail, chi2.sf(distance**2, 2), rtol=1e-8)
    assert_array_equal(inlier == "true", distance <= 2.5)
    assert set(inlier) == {"true", "false"}
    n_out = int((inlier == "false").sum())
    assert f"flagged: {n_out} of {len(X)} rows" in result.stdout
    assert "threshold: 2.500 sigma (--n-sigma 2.5)" in result.stdout
    assert "left out: 'id': text" in result.stdout
    assert "left out: 'label': text" in result.stdout
    assert "expected: 4.4 %" in result.stdout  # chi2.sf(2.5**2, 2)
    assert "meaning: the raw Mahalanobis radius (--calibration none)" in result.stdout


def test_calibrated_default_output_values(data2, tmp_path):
    """Check the default reads n_sigma in 1-D sigmas, in the CSV and summary."""
    X, path = data2
    result = run_cli(path, "-k", "2", "-o", "out.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    _, rows = read_csv(tmp_path / "out.csv")
    q1, median, q3 = np.percentile(X, [25, 50, 75], axis=0)
    Z = (X - median) / (q3 - q1)
    gmm = NSigmaGaussianMixture(n_components=2, random_state=0).fit(Z)
    detector = NSigmaOutlierDetector(FrozenEstimator(gmm)).fit(Z)
    distance = np.array([float(row[5]) for row in rows])
    tail = np.array([float(row[6]) for row in rows])
    inlier = np.array([row[7] == "true" for row in rows])
    # the distance to the detector's (robust) ellipsoids, eligible ones only
    eligible = detector.transform(Z)[:, detector.eligible_components_]
    assert_allclose(distance, eligible.min(axis=1), rtol=1e-8)
    assert_allclose(tail, 2 * norm.sf(-detector.score_samples(Z)), rtol=1e-8)
    assert_array_equal(inlier, detector.predict(Z) == 1)
    # the raw radius of a calibrated 3 sigma in 2-D is larger than 3
    assert (detector.radii_ > 3).all()
    assert (distance[inlier] <= detector.radii_.max()).all()
    assert "expected: 0.3 % (as unlikely as 3.00 sigma in 1-D)" in result.stdout
    assert "(--calibration predictive): Mahalanobis radius" in result.stdout


@pytest.mark.parametrize("keep", ["inliers", "outliers"])
def test_keep_rows(data2, cli, tmp_path, keep):
    """Check --keep writes only the inliers or only the outliers."""
    _, path = data2
    status, out, err = cli(path, "-k", "2", "--keep", keep, "-o", "kept.csv")
    assert status == 0, err
    _, rows = read_csv(tmp_path / "kept.csv")
    assert rows
    assert {row[-1] for row in rows} == {"true" if keep == "inliers" else "false"}
    assert f"wrote: {len(rows)} rows (--keep {keep})" in out


def test_coverage_threshold_and_default_output(data2, cli, tmp_path):
    """Check --coverage gives coverage_to_sigma, and the default output name."""
    _, path = data2
    status, out, err = cli(path, "-k", "2", "--coverage", "0.99")
    assert status == 0, err
    assert f"threshold: {norm.isf(0.005):.3f} sigma" in out  # 1-D equivalent
    assert "expected: 1.0 %" in out
    status, out, err = cli(
        path, "-k", "2", "--coverage", "0.99", "--calibration", "none"
    )
    assert status == 0, err
    assert f"threshold: {coverage_to_sigma(0.99, 2):.3f} sigma" in out
    assert "expected: 1.0 %" in out
    header, rows = read_csv(tmp_path / "data_nsigma.csv")
    assert header[-4:] == OUTPUT and len(rows) == 206


def test_contamination_and_stdout_output(data2, cli, tmp_path):
    """Check --contamination flags that fraction, and '-o -' writes CSV only."""
    _, path = data2
    status, out, err = cli(path, "-k", "2", "--contamination", "0.1", "-o", "-")
    assert status == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][-4:] == OUTPUT and len(rows) == 207
    flagged = sum(row[-1] == "false" for row in rows[1:])
    assert abs(flagged - 20.6) <= 1
    assert "flagged:" in err and "by construction" in err
    assert sorted(os.listdir(tmp_path)) == ["data.csv"]


def test_auto_components_columns_and_verbose(data2, cli):
    """Check 'auto' (BIC), --columns, and --verbose progress on stderr."""
    _, path = data2
    status, out, err = cli(
        path, "-k", "auto", "--max-components", "3", "--columns", "f1", "-v", "-o", "-"
    )
    assert status == 0, err
    assert "chosen by BIC over 1..3" in err
    assert "K=3 BIC=" in err and "Initialization" in err
    assert "1 feature (f1)" in err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["id", "f0", "f1", "label", *OUTPUT]


def test_rerun_on_own_output_replaces_columns(data2, cli, tmp_path):
    """Check the added columns are replaced, not used as features, on a rerun."""
    _, path = data2
    assert cli(path, "-k", "2", "-o", "first.csv")[0] == 0
    status, out, err = cli("first.csv", "-k", "2", "-o", "second.csv")
    assert status == 0, err
    assert "2 features (f0, f1)" in out
    first_header, first = read_csv(tmp_path / "first.csv")
    second_header, second = read_csv(tmp_path / "second.csv")
    assert first_header == second_header
    assert first == second


@pytest.mark.parametrize("n_features", [1, 3])
def test_plot_fits_the_dimension(cli, tmp_path, n_features):
    """Check --plot writes a PNG for 1-D (coverage) and 3-D (ellipsoids) data."""
    path = write_csv(tmp_path / "d.csv", make_data(n_features), extra=False)
    status, out, err = cli(path, "-k", "2", "--plot", "fig.png", "-o", "o.csv")
    assert status == 0, err
    assert (tmp_path / "fig.png").read_bytes()[:8] == PNG_MAGIC
    assert "figure: 'fig.png'" in out
    assert sorted(os.listdir(tmp_path)) == ["d.csv", "fig.png", "o.csv"]


def test_demo_without_matplotlib(tmp_path):
    """Check the demo still reports without matplotlib; --plot then fails."""
    fake = tmp_path / "fake"
    (fake / "matplotlib").mkdir(parents=True)
    (fake / "matplotlib" / "__init__.py").write_text("raise ImportError('absent')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(fake), os.environ.get("PYTHONPATH", "")])}
    work = tmp_path / "work"
    work.mkdir()
    result = run_cli(cwd=work, env=env)
    assert result.returncode == 0, result.stderr
    assert "Component 0" in result.stdout
    assert "sklearn-nsigma[plot]" in result.stderr
    assert os.listdir(work) == []
    result = run_cli("--plot", "x.png", cwd=work, env=env)
    assert result.returncode == 1
    assert "--plot needs matplotlib" in result.stderr
    assert os.listdir(work) == []


OUTPUT = ["component", "mahalanobis", "tail_probability", "inlier"]

BAD_INPUTS = {
    "missing": (None, [], "input file 'missing.csv' does not exist"),
    "empty": ("", [], "is empty"),
    "header-only": ("a,b\n", [], "has a header row but no data rows"),
    "non-numeric": (
        "a,b\n1,2\n3,x\n5,6\n",
        ["--columns", "a,b"],
        "non-numeric value 'x' in column 'b', line 3",
    ),
    "underscore": (
        "a,b\n1,2\n3,1_5\n5,6\n",
        ["--columns", "a,b"],
        "non-numeric value '1_5' in column 'b', line 3",
    ),
    "underscore-exponent": (
        "a,b\n1,2\n3,1e1_0\n5,6\n",
        ["--columns", "a,b"],
        "non-numeric value '1e1_0' in column 'b', line 3",
    ),
    "missing-value": (
        "a,b\n1,2\n3,\n5,6\n",
        [],
        "1 missing value(s) in the feature columns of 'bad.csv' (column 'b' "
        "line 3); skip those rows with --missing drop",
    ),
    "unknown-column": (
        "a,b\n1,2\n3,4\n",
        ["--columns", "a,c"],
        "unknown column(s) 'c'",
    ),
    "few-rows": (
        "a,b\n1,2\n3,4\n",
        ["-k", "3"],
        "--n-components 3 needs at least 3 rows, got 2",
    ),
    "ragged": (
        "a,b\n1,2\n3,4,5\n",
        [],
        "line 3 of 'bad.csv' has 3 fields, the header has 2",
    ),
    "no-numbers": ("a,b\nx,y\nz,w\n", [], "no feature column found"),
    "short-row": (
        "a,b,c\n1,2,x\n3,4\n",
        [],
        "line 3 of 'bad.csv' has 2 fields, the header has 3",
    ),
    "read-only-output": ("a,b\n1,2\n3,4\n5,7\n", ["-o", "ro.csv"], "read-only"),
    "two-rows": ("a,b\n1,2\n3,5\n", [], "2 rows are too few for a mixture"),
    "latin-1": (
        "a,b,name\n1,2,caf\xe9\n3,4,x\n",
        [],
        "is not utf-8 text (byte 0xe9 on line 2); give its encoding with "
        "--encoding, e.g. --encoding latin-1",
    ),
    "decimal-comma": (
        "a;b\n1,5;2,5\n2,5;3,5\n",
        [],
        "column 'a' looks like numbers with decimal commas: use --decimal ,",
    ),
    "single-column": (
        "a;b\n1;2\n3;4\n",
        ["--delimiter", ","],
        "has a single column 'a;b': is the delimiter ';'? Give it with --delimiter ';'",
    ),
    "infinite": ("a,b\n1,2\n3,inf\n5,6\n", [], "non-finite value 'inf' in column 'b'"),
    "unterminated-quote": ('a,b\n1,"2\n3,4\n', [], "ends inside a quoted field"),
    "plot-stdout": (
        "a,b\n1,2\n3,4\n5,7\n",
        ["--plot", "-"],
        "--plot needs a file name",
    ),
    "bad-gzip": (b"\x1f\x8b\x08\x00garbage", [], "is damaged or truncated"),
    "output-folder": (
        "a,b\n1,2\n3,4\n",
        ["-o", "nowhere/out.csv"],
        "does not exist",
    ),
    "plot-format": (
        "a,b\n1,2\n3,4\n5,7\n",
        ["-k", "1", "--plot", "fig.nope"],
        "use one of the extensions",
    ),
}


def _write_case(tmp_path, case):
    content, args, message = BAD_INPUTS[case]
    name = "missing.csv" if content is None else "bad.csv"
    if isinstance(content, bytes):
        (tmp_path / name).write_bytes(content)
    elif content is not None:
        (tmp_path / name).write_bytes(content.encode("latin-1"))
    # An output from an earlier run must survive a failed run.
    (tmp_path / "out.csv").write_text("earlier\n")
    (tmp_path / "ro.csv").write_text("read-only\n")
    os.chmod(tmp_path / "ro.csv", 0o444)
    output = [] if "-o" in args else ["-o", "out.csv"]
    return [name, *args, *output], message


def _snapshot(folder):
    return {p: (folder / p).read_bytes() for p in os.listdir(folder)}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_one_line_error(cli, tmp_path, case):
    """Check bad input: status 1, one line, no output written or replaced."""
    args, message = _write_case(tmp_path, case)
    before = _snapshot(tmp_path)
    status, out, err = cli(*args)
    assert status == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sklearn-nsigma: error: ")
    assert message in lines[0]
    assert _snapshot(tmp_path) == before


def test_bad_input_subprocess_has_no_traceback(tmp_path):
    """Check end to end: exit code 1, one line on stderr, no traceback."""
    args, message = _write_case(tmp_path, "non-numeric")
    before = _snapshot(tmp_path)
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert _snapshot(tmp_path) == before


def test_refuses_to_overwrite_the_input(data2, cli, tmp_path):
    """Check that the output or figure may not be the input file."""
    _, path = data2
    before = path.read_bytes()
    for option in ("-o", "--plot"):
        status, _, err = cli(path, option, "data.csv")
        assert status == 1
        assert "refusing to overwrite the input file" in err
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["data.csv"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["-k", "0"], "expected a positive integer or 'auto'"),
        (["--n-sigma", "-1"], "expected a positive finite number"),
        (["--coverage", "1.5"], "expected a number in (0, 1)"),
        (["--n-sigma", "2", "--coverage", "0.9"], "not allowed with argument"),
    ],
)
def test_bad_options_are_usage_errors(cli, tmp_path, args, message):
    """Check bad option values exit with 2 and a usage message."""
    status, _, err = cli(*args)
    assert status == 2
    assert message in err
    assert os.listdir(tmp_path) == []


def test_usage_error_subprocess(tmp_path):
    """Check end to end: exit code 2 and argparse's usage message."""
    result = run_cli("--contamination", "0.7", cwd=tmp_path)
    assert result.returncode == 2
    assert "expected a number in (0, 0.5]" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1", 1.0),
        (" -2.5 ", -2.5),
        ("+.5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("-1.5E-2", -0.015),
        ("inf", np.inf),
        ("-Infinity", -np.inf),
        ("1_5", np.nan),
        ("0x10", np.nan),
        ("1e", np.nan),
        ("١", np.nan),
    ],
)
def test_parse_numbers(text, expected):
    """Check decimal and scientific notation; no digit groups, hex or non-ASCII."""
    pd = pytest.importorskip("pandas")
    assert_array_equal(_columns.parse_numbers(pd.Series([text]), "."), [expected])


def test_underscore_column_is_not_numeric(cli, tmp_path):
    """Check a column of grouped digits is not taken for a numeric column."""
    (tmp_path / "d.csv").write_text("a,b\n1,1_0\n2,2_0\n3,3_0\n4,4_5\n")
    status, out, err = cli("d.csv", "-k", "1", "-o", "-", "--sample-rows", "0")
    assert status == 0, err
    assert "1 feature (a)" in err
    assert "left out: 'b': text" in err


def _detector(X, k, **params):
    model = NSigmaGaussianMixture(n_components=k, random_state=0).fit(X)
    return NSigmaOutlierDetector(FrozenEstimator(model), **params).fit(X)


@pytest.mark.parametrize("calibration", ["none", "predictive"])
@pytest.mark.parametrize(
    "k, params",
    [
        (2, {"n_sigma": 2.5}),
        (3, {"coverage": 0.9}),
        (3, {"n_sigma": 2.0, "min_weight": 0.5}),
        (2, {"contamination": 0.1}),
    ],
)
def test_score_rows_uses_the_detector(k, params, calibration):
    """Check the scores are the detector's predict, score_samples and transform."""
    X = make_data(3)[:201]
    detector = _detector(X, k, calibration=calibration, **params)
    result = score_rows(detector, X, chunk_rows=50)
    distances = detector.transform(X)
    eligible = detector.eligible_components_
    assert_array_equal(result.inlier, detector.predict(X) == 1)
    assert result.inlier.any() and not result.inlier.all()
    assert_allclose(result.distance, distances[:, eligible].min(axis=1))
    assert_array_equal(
        result.component, np.where(eligible, distances, np.inf).argmin(axis=1)
    )
    if calibration == "none":
        assert_allclose(result.distance, -detector.score_samples(X))
        assert_allclose(result.tail_probability, chi2.sf(result.distance**2, 3))
    else:
        sigmas = -detector.score_samples(X)
        assert_allclose(result.tail_probability, 2 * norm.sf(sigmas))
    if params.get("min_weight") == 0.5:
        assert not eligible.all()  # the ineligible components are ignored


def test_score_rows_on_the_boundary():
    """Check rows exactly at the threshold are inliers, like predict."""
    X = make_data(2)
    detector = _detector(X, 2, calibration="none")
    sigmas = -detector.score_samples(X)
    for i in np.argsort(sigmas)[150:206:11]:
        detector.set_params(n_sigma=float(sigmas[i])).fit(X)
        result = score_rows(detector, X)
        assert -detector.score_samples(X)[i] == detector.threshold_
        assert result.inlier[i]
    X = X[:201]
    for calibration in ("none", "predictive"):
        detector = _detector(X, 2, calibration=calibration, contamination=0.1)
        result = score_rows(detector, X)
        assert (-detector.score_samples(X) == detector.threshold_).sum() == 1
        assert (~result.inlier).sum() == 20


@pytest.mark.parametrize("folder", ["-o", "--plot"])
def test_folder_as_output_is_one_line_error(data2, cli, tmp_path, folder):
    """Check an existing folder given as -o or --plot is refused up front."""
    _, path = data2
    (tmp_path / "outdir").mkdir()
    (tmp_path / "outdir" / "keep.txt").write_text("kept\n")
    other = ["--plot", "fig.png"] if folder == "-o" else ["-o", "out.csv"]
    status, out, err = cli(path, "-k", "2", folder, "outdir", *other)
    assert status == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0] == "sklearn-nsigma: error: cannot write 'outdir': it is a folder"
    assert sorted(os.listdir(tmp_path)) == ["data.csv", "outdir"]
    assert os.listdir(tmp_path / "outdir") == ["keep.txt"]


def test_folder_as_output_subprocess(data2, tmp_path):
    """Check end to end: exit code 1, one line, no traceback, no figure."""
    _, path = data2
    (tmp_path / "outdir").mkdir()
    result = run_cli(path, "-k", "2", "-o", "outdir", "--plot", "fig.png", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "it is a folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["data.csv", "outdir"]


@pytest.mark.parametrize("earlier", [True, False])
@pytest.mark.parametrize("failing", ["fig.png", "out.csv"])
@pytest.mark.parametrize("hard_links", [True, False])
def test_failed_rename_leaves_every_output(
    data2, cli, tmp_path, monkeypatch, earlier, failing, hard_links
):
    """Check a failed rename of either output leaves both as they were."""
    _, path = data2
    if earlier:
        (tmp_path / "fig.png").write_bytes(b"earlier figure")
        (tmp_path / "out.csv").write_text("earlier\n")
    if not hard_links:

        def no_link(*args, **kwargs):
            raise OSError("no hard links here")

        monkeypatch.setattr(os, "link", no_link)
    commit = _output._commit

    def failing_commit(temporary, target, mode):
        if os.path.basename(target) == failing:
            raise PermissionError(13, "Permission denied", target)
        commit(temporary, target, mode)

    monkeypatch.setattr(_output, "_commit", failing_commit)
    before = _snapshot(tmp_path)
    status, out, err = cli(path, "-k", "2", "-o", "out.csv", "--plot", "fig.png")
    assert status == 1
    assert "PermissionError" in err and len(err.strip().splitlines()) == 1
    assert _snapshot(tmp_path) == before

    monkeypatch.setattr(_output, "_commit", commit)
    status, out, err = cli(path, "-k", "2", "-o", "out.csv", "--plot", "fig.png")
    assert status == 0, err
    assert sorted(os.listdir(tmp_path)) == ["data.csv", "fig.png", "out.csv"]
    assert (tmp_path / "fig.png").read_bytes()[:8] == PNG_MAGIC
    assert read_csv(tmp_path / "out.csv")[0][-4:] == OUTPUT


def test_failed_rename_puts_back_a_symbolic_link(data2, cli, tmp_path, monkeypatch):
    """Check an output that is a symbolic link is put back as the link."""
    _, path = data2
    (tmp_path / "target.png").write_bytes(b"earlier figure")
    os.symlink("target.png", tmp_path / "fig.png")
    commit = _output._commit

    def failing_commit(temporary, target, mode):
        if os.path.basename(target) == "out.csv":
            raise PermissionError(13, "Permission denied", target)
        commit(temporary, target, mode)

    monkeypatch.setattr(_output, "_commit", failing_commit)
    status, _, _ = cli(path, "-k", "2", "-o", "out.csv", "--plot", "fig.png")
    assert status == 1
    assert os.readlink(tmp_path / "fig.png") == "target.png"
    assert (tmp_path / "target.png").read_bytes() == b"earlier figure"
    assert sorted(os.listdir(tmp_path)) == ["data.csv", "fig.png", "target.png"]
