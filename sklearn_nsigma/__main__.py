"""``python -m sklearn_nsigma``: the ``sklearn-nsigma`` command-line tool.

Without arguments it runs the main job on a built-in dataset (iris): it
prints each component's ellipsoid, the coverage table and a summary, and
writes a figure. ``python -m sklearn_nsigma --help`` lists the options for
filtering a CSV file.
"""

import sys

from sklearn_nsigma._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
