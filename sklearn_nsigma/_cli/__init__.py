"""``sklearn-nsigma``: flag the rows of a CSV file that lie outside n sigma.

Reads a CSV file with a header row, fits a Gaussian mixture to its numeric
feature columns (standardised first), scores every row through
:class:`~sklearn_nsigma.NSigmaOutlierDetector` and writes the rows back with
four columns added. Without an input file it runs on the iris dataset and
prints the ellipsoid report.

One module per job: ``_args`` (options), ``_source`` (files, compression,
dialects, records), ``_columns`` (which columns are features), ``_table``
(the feature matrix), ``_fit`` (standardising, fitting, scoring),
``_output`` (safe writing), ``_figure``, ``_summary``, ``_progress``,
``_signals`` and ``_main`` (the run).
"""

from sklearn_nsigma._cli._args import CLIError, build_parser
from sklearn_nsigma._cli._main import main


def __getattr__(name):
    # The scoring helper needs NumPy: import it only when asked for.
    if name == "score_rows":
        from sklearn_nsigma._cli._fit import score_rows

        return score_rows
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CLIError", "build_parser", "main", "score_rows"]
