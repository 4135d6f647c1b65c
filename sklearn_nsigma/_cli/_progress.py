"""Progress on standard error, for runs longer than a few seconds.

Nothing is printed during the first :data:`QUIET_SECONDS` of a run, then
each step and, at most every :data:`INTERVAL_SECONDS`, how far reading or
writing has got. ``--quiet`` prints nothing; ``--verbose`` prints every
step from the start, and the details (each K's BIC).
"""

import sys
import time

from sklearn_nsigma._cli._args import PROG
from sklearn_nsigma._cli._signals import raise_if_received

QUIET_SECONDS = 3.0
INTERVAL_SECONDS = 5.0


class Progress:
    """Progress messages of one run."""

    def __init__(self, quiet: bool = False, verbose: bool = False, stream=None):
        self.quiet, self.verbose = quiet, verbose
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.monotonic()
        self._last = self.start

    def _print(self, message: str) -> None:
        print(f"{PROG}: {message}", file=self.stream, flush=True)

    def _due(self) -> bool:
        if self.quiet:
            return False
        return self.verbose or time.monotonic() - self.start >= QUIET_SECONDS

    def step(self, message: str) -> None:
        """A step of the run (printed once the run has lasted a while).

        A signal that some library swallowed stops the run here.
        """
        raise_if_received()
        if self._due():
            self._print(f"[{time.monotonic() - self.start:5.1f} s] {message}")
            self._last = time.monotonic()

    def detail(self, message: str) -> None:
        """A detail, printed with --verbose only."""
        if self.verbose and not self.quiet:
            self._print(message)

    def _every(self, message) -> None:
        raise_if_received()
        now = time.monotonic()
        if self._due() and (self.verbose or now - self._last >= INTERVAL_SECONDS):
            self._last = now
            self._print(f"[{now - self.start:5.1f} s] {message()}")

    def reader(self, total: int, verb: str = "reading", what: str = "the input"):
        """A callback taking how much is done (bytes, rows) out of ``total``."""

        def report(done: int) -> None:
            share = f"{100 * done / total:.0f} %" if total else f"{done:,} bytes"
            self._every(lambda: f"{verb}: {share} of {what}")

        return report

    def done_reading(self, n_rows: int) -> None:
        self.step(f"read {n_rows:,} rows")
