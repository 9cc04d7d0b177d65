"""The terminal: one progress line per trial (which of how many, its cell, an ETA), and nothing else.

Libraries are kept quiet: ``process.prepare`` sets their log levels and warning filters
before any is imported, and ``import_backend`` holds back the start-up lines TensorFlow
prints during its import whatever the level (absl and CUDA notices).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time

from suite.ground import process


def import_backend() -> None:
    """Import Keras (and so its backend) with the process's stderr held back during the import.

    TensorFlow writes its start-up notices from C++ straight to file descriptor 2 before
    absl's logging is set up, so no log level silences them. They are captured here and
    shown only if the import fails, where they may explain why.
    """
    if "keras" in sys.modules:
        return
    process.prepare()  # its quiet settings first, should the caller not have prepared the process
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import keras  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # another backend than TensorFlow: no absl
        pass
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


_line_open = False  # a trial's line has begun and not ended: an error must start on a fresh line


def close_line(stream=None) -> None:
    global _line_open
    if _line_open:
        print(file=stream or sys.stderr, flush=True)
        _line_open = False


class Progress:
    def __init__(self, total: int, done: int = 0, stream=None, label: str = ""):
        self.total, self.done, self.stream = total, done, stream or sys.stderr
        self.label = f"{label}: " if label else ""
        self.skipped = done  # finished before this process started (resumed)
        self.started = time.perf_counter()
        self._trial_start = self.started
        if done:
            print(f"resuming: {done} of {total} trials already recorded", file=self.stream, flush=True)

    def begin(self, label: str) -> None:
        global _line_open
        _line_open = True
        self._trial_start = time.perf_counter()
        count = f"{self.done + 1:>{len(str(self.total))}}/{self.total}" if self.total else str(self.done + 1)
        print(f"[{self.label}{count}] {label} ...", end="", file=self.stream, flush=True)

    def end(self, status: str, metrics: dict, target) -> None:
        global _line_open
        _line_open = False
        now = time.perf_counter()
        self.done += 1
        ran = self.done - self.skipped
        eta = (now - self.started) / ran * max(self.total - self.done, 0) if self.total else None
        if status == "COMPLETED" and "search_score" in metrics:
            outcome = f"score {metrics['search_score']:.3f}"
        elif status == "COMPLETED":
            epoch = metrics.get("epochs_to_target")
            reached = "" if not target.declared else f", target at epoch {int(epoch)}" if epoch else ", target not reached"
            diverged = ", DIVERGED" if metrics.get("diverged") else ""
            name = "val_r2" if "final_val_r2" in metrics else "val_accuracy"  # a regression's score, or accuracy
            acc = metrics.get(f"final_{name}")
            outcome = f"{name} {acc:.3f}{reached}{diverged}" if acc is not None else (reached + diverged)[2:] or "done"
        else:
            outcome = f"trial {status.lower()}"
        print(
            f" {outcome} ({now - self._trial_start:.1f}s) | {clock(now - self.started)} elapsed"
            + (f", ETA {clock(eta)}" if eta is not None else ""),
            file=self.stream,
            flush=True,
        )
