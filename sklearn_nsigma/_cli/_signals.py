"""SIGINT, SIGTERM and SIGHUP as exceptions, deferred around file commits.

While a handler is installed, each of these signals raises
:class:`Interrupted` in the main thread, so that ``finally`` blocks remove
temporary files. Inside :func:`deferred_signals` (creating, renaming and
removing files) the signal is held and raised when the block ends: an
output is then either the old one or the complete new one.
"""

import contextlib
import signal

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


def _handler(signum, frame):
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


def _signals():
    return [getattr(signal, name) for name in EXIT_STATUS if hasattr(signal, name)]


def install() -> dict:
    """Install the handler; return the previous handlers (empty off the main thread)."""
    previous = {}
    for signum in _signals():
        try:
            previous[signum] = signal.signal(signum, _handler)
        except (ValueError, OSError):  # not the main thread
            break
    return previous


def restore(previous: dict) -> None:
    """Put back the handlers that :func:`install` replaced."""
    for signum, handler in previous.items():
        signal.signal(signum, handler)
