"""``python -m sklearn_nsigma``: the ``sklearn-nsigma`` command-line tool.

Without arguments it runs the main job on a built-in dataset (iris): it
prints each component's ellipsoid, the coverage table and a summary, and
writes a figure. ``python -m sklearn_nsigma --help`` lists the options for
filtering a CSV file.
"""

import sys


def main(argv=None) -> int:
    """Run the tool; SIGINT while it starts up exits 130 with one line.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments, without the program name. None reads ``sys.argv``.

    Returns
    -------
    status : int
        The exit status.
    """
    try:
        from sklearn_nsigma._cli import main as cli_main

        return cli_main(argv)
    except KeyboardInterrupt:
        print(
            "sklearn-nsigma: interrupted by SIGINT; no output written", file=sys.stderr
        )
        return 130


__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
