"""The command line's outputs: special files, read-only files, signals,
start-up, and the figure's framing."""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from sklearn_nsigma._cli import _fit, _output

pytest.importorskip("pandas")


@pytest.fixture
def data(tmp_path):
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(0, 1, (60, 2)), rng.normal(6, 1, (60, 2))])
    text = "a,b\n" + "".join(f"{x:.4f},{y:.4f}\n" for x, y in X)
    (tmp_path / "d.csv").write_text(text)
    return "d.csv"


def listing(folder):
    return sorted(os.listdir(folder))


def test_fifo_output_is_streamed(cli, tmp_path, data):
    """Check a FIFO output is written directly, and stays a FIFO."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    status, _, err = cli(data, "-k", "2", "-o", "pipe")
    reader.join(timeout=60)
    assert status == 0, err
    assert (
        received[0].splitlines()[0]
        == "a,b,component,mahalanobis,tail_probability,inlier"
    )
    assert len(received[0].splitlines()) == 121
    assert os.path.exists(fifo) and not os.path.isfile(fifo)
    assert listing(tmp_path) == ["d.csv", "pipe"]


def test_character_device_output(cli, tmp_path, data):
    """Check a character device (a null device made in tmp_path) stays one."""
    import stat

    device = tmp_path / "null"
    try:  # the real /dev/null is never used: a broken run could replace it
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, AttributeError, OSError) as exc:
        pytest.skip(f"cannot create a character device: {exc}")
    status, out, err = cli(data, "-k", "2", "-o", "null")
    assert status == 0, err
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    assert "to 'null'" in out
    assert listing(tmp_path) == ["d.csv", "null"]


def test_symlink_output_keeps_the_link(cli, tmp_path, data):
    """Check the target of a link is replaced, and the link stays."""
    (tmp_path / "real.csv").write_text("earlier\n")
    os.chmod(tmp_path / "real.csv", 0o640)
    os.symlink("real.csv", tmp_path / "link.csv")
    status, _, err = cli(data, "-k", "2", "-o", "link.csv")
    assert status == 0, err
    assert os.readlink(tmp_path / "link.csv") == "real.csv"
    assert (tmp_path / "real.csv").read_text().startswith("a,b,component")
    assert os.stat(tmp_path / "real.csv").st_mode & 0o777 == 0o640
    assert listing(tmp_path) == ["d.csv", "link.csv", "real.csv"]


def test_read_only_output_is_refused_before_fitting(cli, tmp_path, data, monkeypatch):
    """Check a read-only output is refused, and nothing is fitted first."""
    (tmp_path / "out.csv").write_text("earlier\n")
    os.chmod(tmp_path / "out.csv", 0o444)

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before checking the output")

    monkeypatch.setattr(_fit, "fit_mixture", no_fit)
    for output in ("out.csv", "missing/out.csv"):
        status, out, err = cli(data, "-k", "2", "-o", output)
        assert status == 1 and out == ""
        assert len(err.strip().splitlines()) == 1
    assert (tmp_path / "out.csv").read_text() == "earlier\n"
    assert os.stat(tmp_path / "out.csv").st_mode & 0o777 == 0o444


def _send_during(monkeypatch, target, name, signum):
    original = getattr(target, name)

    def wrapped(*args, **kwargs):
        os.kill(os.getpid(), signum)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapped)


@pytest.mark.parametrize(
    "signum, status",
    [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)],
)
def test_signal_while_writing_keeps_the_old_output(
    cli, tmp_path, data, monkeypatch, signum, status
):
    """Check a signal while writing leaves the old output and no temporary file."""
    (tmp_path / "out.csv").write_text("earlier\n")
    _send_during(monkeypatch, _output.RowWriter, "lines", signum)
    code, out, err = cli(data, "-k", "2", "-o", "out.csv", "--plot", "fig.png")
    assert code == status
    name = signal.Signals(signum).name
    assert err.strip() == f"sklearn-nsigma: interrupted by {name}; no output written"
    assert (tmp_path / "out.csv").read_text() == "earlier\n"
    assert listing(tmp_path) == ["d.csv", "out.csv"]


def test_signal_during_the_rename_is_deferred(cli, tmp_path, data, monkeypatch):
    """Check a signal during the commit leaves the complete new output."""
    (tmp_path / "out.csv").write_text("earlier\n")
    _send_during(monkeypatch, _output, "_commit", signal.SIGTERM)
    code, _, err = cli(data, "-k", "2", "-o", "out.csv")
    assert code == 143, err
    assert err == (
        "sklearn-nsigma: interrupted by SIGTERM; the output was complete and is "
        "in place\n"
    )
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 121
    assert listing(tmp_path) == ["d.csv", "out.csv"]


def _signal_then(monkeypatch, signum, then):
    """Send ``signum`` as rows are written; ``then`` gets the exception."""
    original = _output.RowWriter.lines

    def wrapped(self, block):
        try:
            os.kill(os.getpid(), signum)
        except KeyboardInterrupt as exc:
            then(exc)
        return original(self, block)

    monkeypatch.setattr(_output.RowWriter, "lines", wrapped)


def _turn_into_value_error(exc):
    raise ValueError("a buffer format string") from exc


@pytest.mark.parametrize("then", [_turn_into_value_error, lambda exc: None])
def test_signal_that_compiled_code_mishandles(cli, tmp_path, data, monkeypatch, then):
    """Check a signal turned into another error, or swallowed, still stops the run."""
    (tmp_path / "out.csv").write_text("earlier\n")
    _signal_then(monkeypatch, signal.SIGHUP, then)
    code, _, err = cli(data, "-k", "2", "-o", "out.csv")
    assert code == 129
    assert err == "sklearn-nsigma: interrupted by SIGHUP; no output written\n"
    assert (tmp_path / "out.csv").read_text() == "earlier\n"
    assert listing(tmp_path) == ["d.csv", "out.csv"]


def test_ignored_signal_stays_ignored(cli, tmp_path, data, monkeypatch):
    """Check a signal ignored at start (nohup's SIGHUP) does not stop the run."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        _send_during(monkeypatch, _output.RowWriter, "lines", signal.SIGHUP)
        code, _, err = cli(data, "-k", "2", "-o", "out.csv")
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert code == 0, err
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 121


def _default_signals():
    # A background job of a shell starts with SIGINT ignored, and the tool
    # keeps ignored signals ignored: give the child the default handlers.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def _start(tmp_path, *args, code=None):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    command = ["-m", "sklearn_nsigma"] if code is None else ["-c", code]
    return subprocess.Popen(
        [sys.executable, *command, *args],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals,
    )


@pytest.mark.parametrize(
    "signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)]
)
def test_signal_subprocess(tmp_path, signum, status):
    """Check end to end: a signal while reading standard input, one line, no file."""
    (tmp_path / "out.csv").write_text("earlier\n")
    process = _start(tmp_path, "-", "-o", "out.csv")
    process.stdin.write("a,b\n1,2\n")
    process.stdin.flush()
    time.sleep(1.0)  # started, or still starting: both must exit cleanly
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == status
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("sklearn-nsigma: interrupted by")
    assert listing(tmp_path) == ["out.csv"]
    assert (tmp_path / "out.csv").read_text() == "earlier\n"


# Sends a signal to itself when a module starts to load (NumPy is the first
# heavy one), then runs the tool as `python -m sklearn_nsigma` would.
START_UP = """
import os, runpy, signal, sys

SIGNAL = getattr(signal, sys.argv.pop(1))
MODULE = sys.argv.pop(1)

class Hook:
    def find_spec(self, name, path=None, target=None):
        if name == MODULE:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), SIGNAL)

sys.meta_path.insert(0, Hook())
sys.argv[0] = "sklearn_nsigma"
runpy.run_module("sklearn_nsigma", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(
    "name, status, module",
    [
        ("SIGINT", 130, "numpy"),
        ("SIGTERM", 143, "numpy"),
        ("SIGHUP", 129, "numpy"),
        # before the tool's handlers are installed: Python's KeyboardInterrupt
        ("SIGINT", 130, "sklearn_nsigma._cli._args"),
    ],
)
def test_signal_during_start_up(tmp_path, data, name, status, module):
    """Check a signal while the modules load: one line, the old output."""
    (tmp_path / "out.csv").write_text("earlier\n")
    process = _start(tmp_path, name, module, data, "-o", "out.csv", code=START_UP)
    out, err = process.communicate(timeout=60)
    assert process.returncode == status, err
    assert err == f"sklearn-nsigma: interrupted by {name}; no output written\n"
    assert (tmp_path / "out.csv").read_text() == "earlier\n"
    assert listing(tmp_path) == ["d.csv", "out.csv"]


def test_version_and_help_import_nothing_heavy(tmp_path):
    """Check --version and --help load neither NumPy, scikit-learn nor pandas."""
    code = (
        "import sys\n"
        "from sklearn_nsigma.__main__ import main\n"
        "for argv in (['--version'], ['--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = [m for m in ('numpy', 'sklearn', 'pandas', 'scipy')\n"
        "         if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr
    assert "sklearn-nsigma 0.1.0" in result.stdout
    assert "--missing {error,drop}" in result.stdout


def _python(tmp_path, code):
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_program_does_not_load_pyarrow(tmp_path, data):
    """Check the program keeps pyarrow out; main(argv) in a process leaves it be."""
    program = _python(
        tmp_path,
        "import sys\n"
        "from sklearn_nsigma.__main__ import main\n"
        "sys.argv = ['sklearn-nsigma', 'd.csv', '-k', '2', '-o', 'a.csv', '-q']\n"
        "print(main(), 'pyarrow' in sys.modules)\n",
    )
    assert program.splitlines()[-1] == "0 False"
    in_process = _python(
        tmp_path,
        "import sys\n"
        "from sklearn_nsigma.__main__ import main\n"
        "finders = list(sys.meta_path)\n"
        "print(main(['d.csv', '-k', '2', '-o', 'b.csv', '-q']), "
        "sys.meta_path == finders)\n",
    )
    assert in_process.splitlines()[-1] == "0 True"
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_without_pandas(tmp_path, data):
    """Check a file needs pandas (one line naming the extra); the demo does not."""
    fake = tmp_path / "fake"
    (fake / "pandas").mkdir(parents=True)
    (fake / "pandas" / "__init__.py").write_text("raise ImportError('absent')\n")
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "PYTHONPATH": os.pathsep.join([str(fake), os.environ.get("PYTHONPATH", "")]),
    }
    run = [sys.executable, "-m", "sklearn_nsigma"]
    result = subprocess.run(
        [*run, data, "-q"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr == (
        "sklearn-nsigma: error: reading a CSV file needs pandas: "
        'pip install "sklearn-nsigma[cli]"\n'
    )
    result = subprocess.run(
        [*run, "--no-plot", "-o", "iris.csv"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "To run it on your own file: python -m sklearn_nsigma data.csv" in result.stdout
    )
    assert len((tmp_path / "iris.csv").read_text().splitlines()) == 151


@pytest.mark.parametrize("n_features", [2, 3, 5])
def test_figure_frames_the_data(n_features):
    """Check the axes frame the points, legends sit outside, points on top."""
    plt = pytest.importorskip("matplotlib.pyplot")
    from sklearn.frozen import FrozenEstimator

    from sklearn_nsigma import NSigmaGaussianMixture, NSigmaOutlierDetector
    from sklearn_nsigma._cli._figure import draw_figure
    from sklearn_nsigma._plot._base import _MARGIN as MARGIN

    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, n_features)) * np.arange(1, n_features + 1)
    model = NSigmaGaussianMixture(2, random_state=0).fit(X)
    detector = NSigmaOutlierDetector(FrozenEstimator(model), n_sigma=8).fit(X)
    names = [f"f{j}" for j in range(n_features)]
    figure = draw_figure(plt, detector, detector, X, X, names, "title")
    try:
        axes = [ax for ax in figure.get_axes() if ax.get_xlabel() in names]
        for ax in axes:
            j = names.index(ax.get_xlabel())
            span = X[:, j].max() - X[:, j].min()
            low, high = ax.get_xlim()
            assert low == pytest.approx(X[:, j].min() - MARGIN * span)
            assert high == pytest.approx(X[:, j].max() + MARGIN * span)
        if n_features == 2:
            legend = axes[0].get_legend()
            assert legend.get_bbox_to_anchor().x0 > axes[0].bbox.x1
        if n_features == 3:
            ax = axes[0]
            assert ax.computed_zorder is False
            surfaces = [c for c in ax.collections if c.get_zorder() == 1]
            others = [c for c in ax.collections if c.get_zorder() != 1]
            assert surfaces and all(c.get_alpha() <= 0.15 for c in surfaces)
            assert others and all(c.get_zorder() > 1 for c in others)
    finally:
        plt.close(figure)


def test_progress_after_a_few_seconds(monkeypatch):
    """Check progress: silent at first, then steps and one share per interval."""
    import io

    from sklearn_nsigma._cli import _progress

    clock = [100.0]
    monkeypatch.setattr(_progress.time, "monotonic", lambda: clock[0])
    stream, silent = io.StringIO(), io.StringIO()
    progress = _progress.Progress(stream=stream)
    quiet = _progress.Progress(quiet=True, stream=silent)
    for p in (progress, quiet):
        p.step("reading")  # at 0 s: too early
    clock[0] += _progress.QUIET_SECONDS
    report = progress.reader(1000, "writing")
    for done in (100, 200, 300):  # within the first interval: nothing
        report(done)
    clock[0] += _progress.INTERVAL_SECONDS
    report(800)
    report(900)  # within the same interval as 80 %: nothing
    progress.step("scoring every row")
    quiet.step("scoring every row")
    quiet.reader(1000)(500)
    assert stream.getvalue().splitlines() == [
        "sklearn-nsigma: [  8.0 s] writing: 80 % of the input",
        "sklearn-nsigma: [  8.0 s] scoring every row",
    ]
    assert silent.getvalue() == ""
