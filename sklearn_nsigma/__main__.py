"""``python -m sklearn_nsigma``: the ``sklearn-nsigma`` command-line tool.

Without arguments it runs the main job on a built-in dataset (iris): it
prints each component's ellipsoid, the coverage table and a summary, and
writes a figure. ``python -m sklearn_nsigma --help`` lists the options for
filtering a CSV file.
"""

import sys


class _RefusePyarrow:
    """An import finder under which ``import pyarrow`` fails as if absent."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "pyarrow":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def _without_pyarrow() -> None:
    # pandas loads pyarrow whenever it is installed (about 35 MiB resident),
    # and scikit-learn loads pandas. The tool uses neither pyarrow nor its
    # string types, so its own process refuses the import: a small file's
    # run then stays within its memory budget. Never done in a process that
    # calls main(argv) itself, where pandas may already rely on pyarrow.
    if "pandas" not in sys.modules and "pyarrow" not in sys.modules:
        sys.meta_path.insert(0, _RefusePyarrow())


def main(argv=None) -> int:
    """Run the tool: :func:`sklearn_nsigma._cli.main` with the same arguments.

    Called without arguments, as the ``sklearn-nsigma`` program, it also
    keeps pandas from loading pyarrow, which the tool does not use.
    """
    if argv is None:
        _without_pyarrow()
    # Only the standard library is loaded before the tool's signal handlers
    # are installed; NumPy, scikit-learn and pandas are imported after.
    try:
        from sklearn_nsigma._cli import main as cli_main
    except KeyboardInterrupt as exc:  # SIGINT before the handlers are in place
        from sklearn_nsigma._cli._signals import report

        return report(exc)
    return cli_main(argv)


__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
