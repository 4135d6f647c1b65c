"""``python -m sklearn_nsigma``: the main job on a built-in dataset."""

import sys

from sklearn_nsigma._demo import run_demo


def main(argv: list[str] | None = None) -> int:
    """Print the n-sigma report of a mixture fitted to the iris dataset."""
    print(run_demo())
    return 0


if __name__ == "__main__":
    sys.exit(main())
