"""Stop requests: SIGTERM and Ctrl-C end a command, at a point where ending is safe.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be. In a
command that trains, that can be the middle of an import, of a TensorFlow trace
or of a pybind11 registration. A SIGTERM sent at random moments to ``suite run``
was seen to leave TensorFlow half-imported ("generic_type ... is already
registered"), to vanish into a library that swallowed it (the run went on and
exited 0), and once, in CI, to crash the interpreter (SIGSEGV instead of the
interrupted exit). So in a command that trains, a request only marks the
process; the suite raises ``KeyboardInterrupt`` itself at points it owns: the
end of every epoch, the start of every trial, each turn of a wait. From there
the usual path runs: the trial in flight is marked KILLED, the study's run is
closed, and a rerun resumes. A second request stops at once, as Python would.

Commands that do not train take a request at once, SIGTERM as Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_pending = 0  # requests received and not yet honoured


def check() -> None:
    """A safe point: honour a pending request by raising ``KeyboardInterrupt`` here."""
    if _pending:
        raise KeyboardInterrupt


@contextmanager
def on_request(at_safe_points: bool):
    """Inside, SIGTERM and Ctrl-C stop the command: at once, or (``at_safe_points``) at the next ``check()``."""
    global _pending
    if threading.current_thread() is not threading.main_thread():  # handlers can only be set there
        yield
        return

    def request(signum, frame):
        global _pending
        _pending += 1
        if not at_safe_points or _pending > 1:
            raise KeyboardInterrupt
        # os.write, not print: the handler may run in the middle of a print to the same stream
        os.write(2, f"\n{signal.Signals(signum).name}: stopping at the end of this epoch or trial; "
                    "send it again to stop at once\n".encode())

    previous = {s: signal.signal(s, request) for s in SIGNALS}
    _pending = 0
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _pending = 0
