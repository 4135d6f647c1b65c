"""``sklearn-nsigma``: read, check the outputs, fit, score, write, summarise."""

import contextlib
import os
import sys
import warnings

from sklearn_nsigma._cli import _signals
from sklearn_nsigma._cli._args import DEFAULT_DEMO_PLOT, PROG, CLIError, build_parser

EXIT_OK = 0
EXIT_ERROR = 1  # bad input or a failed fit; argparse exits 2 on bad usage


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


def _default_output(path: str) -> str:
    stem, extension = os.path.splitext(path)
    if extension.lower() in (".gz", ".bz2", ".xz", ".zip"):
        stem = os.path.splitext(stem)[0]
    return f"{stem}_nsigma.csv"


def _targets(args, demo: bool):
    """The checked output and figure targets (None when not written)."""
    from sklearn_nsigma._cli._output import check_target

    output = args.output
    if output is None and not demo:
        output = "-" if args.input == "-" else _default_output(args.input)
    plot = args.plot
    if demo and plot is None and not args.no_plot:
        plot = DEFAULT_DEMO_PLOT
    if plot == "-":
        raise CLIError("--plot needs a file name, not '-'")
    inputs = [] if demo else [args.input]
    output_target = None if output is None else check_target(output, inputs)
    plot_target = None if plot is None else check_target(plot, inputs)
    if output_target is not None and plot_target is not None:
        if output not in ("-",) and os.path.realpath(output) == os.path.realpath(plot):
            raise CLIError("--output and --plot name the same file")
    return output_target, plot_target


def _pyplot(args, plot_target, demo: bool):
    """pyplot, or None when no figure is drawn (the demo without matplotlib)."""
    if plot_target is None:
        return None, None
    from sklearn_nsigma._cli._figure import check_plot_path

    try:
        return check_plot_path(plot_target.path), plot_target
    except CLIError:
        if not (demo and args.plot is None):
            raise
        print(
            f"{PROG}: note: no figure written; matplotlib is needed for it: "
            "pip install 'sklearn-nsigma[plot]'",
            file=sys.stderr,
        )
        return None, None


def _report(args, table, fit, center, scale, Z, messages, demo):
    from sklearn_nsigma._cli._figure import plot_rows
    from sklearn_nsigma._cli._fit import in_original_units
    from sklearn_nsigma._demo import demo_title, report

    rows = plot_rows(Z.shape[0], args.random_state) if Z.shape[0] > 100_000 else None
    X = Z if rows is None else Z[rows]
    X = X * scale + center
    model = in_original_units(fit.model, center, scale)
    title = (
        demo_title(model.n_components, *X.shape)
        if demo
        else f"NSigmaGaussianMixture(n_components={model.n_components}) on "
        f"{table.name} ({Z.shape[0]} samples, {Z.shape[1]} features)"
    )
    print(report(model, X, title), file=messages)
    print(file=messages)


def _figure(plt, args, table, fit, detector, result, center, scale, Z):
    from sklearn_nsigma._cli._figure import draw_figure, plot_rows
    from sklearn_nsigma._cli._fit import (
        _sample,
        in_original_units,
        original_detector,
    )

    rows = plot_rows(Z.shape[0], args.random_state)
    Zs = Z[rows]
    X = Zs * scale + center
    model = in_original_units(fit.model, center, scale)
    X_fit = _sample(Z, args.sample_rows, args.random_state) * scale + center
    shown = original_detector(model, detector, X_fit)
    title = (
        f"{fit.model.n_components} component(s), threshold "
        f"{detector.threshold_:.2f} sigma: {int((~result.inlier).sum())} of "
        f"{result.inlier.size} rows flagged"
    )
    return draw_figure(plt, shown, detector, X, Zs, table.feature_names, title)


def _write(args, table, result, output_target, plot_target, figure, progress):
    """Write the figure and the CSV; commit both, or neither."""
    from sklearn_nsigma._cli._output import RowWriter, Writer

    rows = RowWriter(table, result, args.keep)
    with Writer() as writer:
        if figure is not None:
            import matplotlib.pyplot as plt

            if plot_target.kind == "file":
                figure.savefig(writer.temporary(plot_target), dpi=100)
            else:
                figure.savefig(plot_target.path, dpi=100)
            plt.close(figure)
        if output_target is not None:
            progress.step("writing the output")
            with writer.open_text(output_target) as handle:
                rows.write(handle, progress.reader(table.size, "writing"))
        writer.commit()
    return rows.n_written


def run(args) -> int:
    """Run the tool on parsed arguments; raise CLIError on bad input."""
    from sklearn_nsigma._cli._progress import Progress

    demo = args.input is None
    progress = Progress(args.quiet, args.verbose)
    output_target, plot_target = _targets(args, demo)
    plt, plot_target = _pyplot(args, plot_target, demo)
    if demo:
        from sklearn_nsigma._cli._table import demo_table
        from sklearn_nsigma._demo import DEMO_N_COMPONENTS

        table = demo_table()
        n_components = args.n_components or DEMO_N_COMPONENTS
    else:
        from sklearn_nsigma._cli._table import read_table

        table = read_table(args, progress)
        n_components = args.n_components or "auto"

    from sklearn_nsigma._cli._fit import (
        fit_mixture,
        make_detector,
        score_rows,
        standardise,
    )

    Z = table.X
    center, scale = standardise(Z, args.random_state)
    with _fit_messages(args.verbose):
        fit = fit_mixture(Z, args, n_components, progress)
        detector = make_detector(fit.model, Z, args)
        progress.step("scoring every row")
        result = score_rows(
            detector, Z, on_chunk=progress.reader(Z.shape[0], "scoring", "the rows")
        )

    messages = (
        sys.stderr
        if output_target is not None and output_target.kind == "stdout"
        else sys.stdout
    )
    if demo or args.report:
        _report(args, table, fit, center, scale, Z, messages, demo)
    figure = None
    if plt is not None:
        progress.step("drawing the figure")
        with _fit_messages(args.verbose):
            figure = _figure(plt, args, table, fit, detector, result, center, scale, Z)
    n_written = _write(
        args, table, result, output_target, plot_target, figure, progress
    )

    from sklearn_nsigma._cli._summary import DEMO_NEXT, summary

    lines = summary(
        args, table, fit, detector, result, n_written, output_target, plot_target
    )
    if demo:
        lines.append(DEMO_NEXT)
    print("\n".join(lines), file=messages)
    return EXIT_OK


def _unexpected(exc: Exception, verbose: bool) -> int:
    if verbose:
        raise exc
    message = str(exc).strip().splitlines()
    detail = f": {message[0]}" if message else ""
    print(
        f"{PROG}: error: {type(exc).__name__}{detail} (--verbose for details)",
        file=sys.stderr,
    )
    return EXIT_ERROR


def _main(argv) -> int:
    """Parse and run; turn every error into a one-line message and a status."""
    try:
        return run(build_parser().parse_args(argv))
    except BrokenPipeError:
        # The reader of standard output went away (e.g. `| head`).
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return EXIT_OK
    except Exception as exc:
        # A signal that compiled code turned into another error is the cause.
        _signals.raise_if_received()
        if isinstance(exc, CLIError):
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        argv = sys.argv if argv is None else argv
        return _unexpected(exc, "-v" in argv or "--verbose" in argv)


def main(argv: list | None = None) -> int:
    """Entry point of ``sklearn-nsigma`` and ``python -m sklearn_nsigma``.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments, without the program name. None reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 1 on bad input, 129, 130 or 143 when stopped by SIGHUP,
        SIGINT or SIGTERM (argparse exits with 2 on bad usage).
    """
    previous = _signals.install()
    try:
        status = _main(argv)
        _signals.raise_if_received()  # a signal that compiled code swallowed
        return status
    except KeyboardInterrupt as exc:
        return _signals.report(exc)
    finally:
        _signals.restore(previous)
