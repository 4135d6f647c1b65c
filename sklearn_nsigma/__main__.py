"""``python -m sklearn_nsigma``: the ``sklearn-nsigma`` command-line tool.

Without arguments it runs the main job on a built-in dataset (iris): it
prints each component's ellipsoid, the coverage table and a summary, and
writes a figure. ``python -m sklearn_nsigma --help`` lists the options for
filtering a CSV file.
"""

import sys


def main(argv=None) -> int:
    """Run the tool: :func:`sklearn_nsigma._cli.main` with the same arguments."""
    # Only the standard library is loaded before the tool's signal handlers
    # are installed; NumPy, scikit-learn and pandas are imported after.
    from sklearn_nsigma._cli import main as cli_main

    return cli_main(argv)


__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
