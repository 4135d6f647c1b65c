"""SIGINT, SIGTERM and SIGHUP as exceptions, deferred around file commits.

While a handler is installed, each of these signals raises
:class:`Interrupted` in the main thread, so that ``finally`` blocks remove
temporary files. Inside :func:`deferred_signals` (creating, renaming and
removing files) the signal is held and raised when the block ends: an
output is then either the old one or the complete new one.

A signal that the process was started to ignore (``nohup`` ignores SIGHUP;
a shell's background job ignores SIGINT) stays ignored. A signal is also
remembered: compiled code that turns the exception into another error, or
swallows it, cannot make the run report a failure or commit its outputs.
"""

import contextlib
import signal
import sys

from sklearn_nsigma._cli._args import PROG

# Exit status 128 + the signal number, as a shell reports a killed process.
EXIT_STATUS = {"SIGHUP": 129, "SIGINT": 130, "SIGTERM": 143}


class Interrupted(KeyboardInterrupt):
    """Raised by SIGINT, SIGTERM or SIGHUP."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS.get(self.name, 128 + self.signum)


class _State:
    depth = 0
    pending: int | None = None
    received: int | None = None
    committed = False  # the outputs are in place


def _handler(signum, frame):
    _State.received = signum
    if _State.depth:
        _State.pending = signum
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def deferred_signals():
    """Hold the handled signals during the block; raise the last one after."""
    _State.depth += 1
    try:
        yield
    finally:
        _State.depth -= 1
        if not _State.depth and _State.pending is not None:
            signum, _State.pending = _State.pending, None
            raise Interrupted(signum)


def raise_if_received() -> None:
    """Raise :class:`Interrupted` if a handled signal arrived earlier.

    Called before outputs are committed: a signal whose exception some
    compiled code swallowed still stops the run.
    """
    if _State.received is not None:
        raise Interrupted(_State.received)


def mark_committed() -> None:
    """Record that the outputs are in place (for :func:`report`)."""
    _State.committed = True


def report(exc: KeyboardInterrupt) -> int:
    """Print the one-line message for ``exc``; return the exit status."""
    interrupted = exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)
    outcome = (
        "the output was complete and is in place"
        if _State.committed
        else "no output written"
    )
    print(f"{PROG}: interrupted by {interrupted.name}; {outcome}", file=sys.stderr)
    return interrupted.exit_status


def _signals():
    return [getattr(signal, name) for name in EXIT_STATUS if hasattr(signal, name)]


def install() -> dict:
    """Install the handler; return the previous handlers (empty off the main thread).

    Signals that are ignored (``SIG_IGN``) when the tool starts stay ignored.
    """
    previous = {}
    _State.depth, _State.pending, _State.received = 0, None, None
    _State.committed = False
    for signum in _signals():
        try:
            if signal.getsignal(signum) is signal.SIG_IGN:
                continue
            previous[signum] = signal.signal(signum, _handler)
        except (ValueError, OSError):  # not the main thread
            break
    return previous


def restore(previous: dict) -> None:
    """Put back the handlers that :func:`install` replaced."""
    for signum, handler in previous.items():
        signal.signal(signum, handler)
