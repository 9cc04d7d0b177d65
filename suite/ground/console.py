"""The terminal: one progress line per trial (which of how many, its cell, its score named with its direction),
under one bar for the whole run (tqdm: trials done of those planned, searches included, and the run's ETA), and
nothing else.

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


class RunBar:
    """One bar for a whole run: every search candidate and compared trial it plans, done or not (tqdm). Trials
    already recorded count as done from the start; the ETA is the run's, from the trials this process trained.
    On a terminal the bar redraws in place under the trials' lines; elsewhere (a log, CI) it stays silent and
    each trial's line carries the run's count."""

    def __init__(self, planned: int, done: int = 0, stream=None):
        from tqdm import tqdm

        self.stream = stream or sys.stderr
        self.bar = tqdm(total=planned, initial=done, unit="trial", desc="run", file=self.stream, dynamic_ncols=True,
                        disable=not self.stream.isatty(), leave=False, bar_format="{desc}: {n}/{total} trials "
                        "{bar} {elapsed} elapsed, ETA {remaining}")
        self.planned, self.done, self.skipped, self.started = planned, done, done, time.perf_counter()

    def skip(self, recorded: int) -> None:
        """Trials a tuner found already recorded (a resumed run): done, but not by this process."""
        self.done += recorded
        self.skipped += recorded
        self.planned = max(self.planned, self.done)
        self.bar.total = self.planned
        self.bar.update(recorded)

    def grow(self, more: int) -> None:
        """Another round of seeds (``rounds:``) plans more trials."""
        self.planned += more
        self.bar.total = self.planned
        self.bar.refresh()

    def tick(self) -> str:
        """One trial ended: the run's count and ETA, for its line."""
        self.done += 1
        if self.done > self.planned:  # a sweep's boundary check, or Hyperband's rounds, added candidates
            self.planned = self.bar.total = self.done
        self.bar.update(1)
        ran = self.done - self.skipped
        left = max(self.planned - self.done, 0)
        eta = (time.perf_counter() - self.started) / ran * left if ran else None
        return f"run {self.done}/{self.planned}" + (f", ETA {clock(eta)}" if eta is not None else "")

    def write(self, line: str) -> None:
        self.bar.write(line, file=self.stream) if not self.bar.disable else print(line, file=self.stream, flush=True)

    def close(self) -> None:
        self.bar.close()


class Progress:
    def __init__(self, total: int, done: int = 0, stream=None, label: str = "", bar: RunBar | None = None,
                 score: tuple[str, str] | None = None):
        """``bar``: the whole run's (its count and ETA on every line); ``score``: a search's objective and its
        direction (``max``/``min``), named on each candidate's line."""
        self.total, self.done, self.stream = total, done, stream or sys.stderr
        self.bar, self.score = bar, score
        self.label = f"{label}: " if label else ""
        self._begun = ""
        if bar is not None and done:
            bar.skip(done)
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
        self._begun = f"[{self.label}{count}] {label} ..."
        if self._redrawn():  # the line is written whole when the trial ends, above the bar
            _line_open = False
            return
        print(self._begun, end="", file=self.stream, flush=True)

    def _redrawn(self) -> bool:
        return self.bar is not None and not self.bar.bar.disable

    def end(self, status: str, metrics: dict, target) -> None:
        global _line_open
        _line_open = False
        now = time.perf_counter()
        self.done += 1
        ran = self.done - self.skipped
        eta = (now - self.started) / ran * max(self.total - self.done, 0) if self.total else None
        if status == "COMPLETED" and "search_score" in metrics:
            name, better = self.score or ("score", "max")
            outcome = f"{name} {metrics['search_score']:.3f} ({'higher' if better == 'max' else 'lower'} is better)"
        elif status == "COMPLETED":
            epoch = metrics.get("epochs_to_target")
            reached = "" if not target.declared else f", target at epoch {int(epoch)}" if epoch else ", target not reached"
            diverged = ", DIVERGED" if metrics.get("diverged") else ""
            name = "val_r2" if "final_val_r2" in metrics else "val_accuracy"  # a regression's score, or accuracy
            acc = metrics.get(f"final_{name}")
            outcome = f"{name} {acc:.3f}{reached}{diverged}" if acc is not None else (reached + diverged)[2:] or "done"
        else:
            outcome = f"trial {status.lower()}"
        if self.bar is not None:  # the whole run's count and ETA, not this search's alone
            ended = f" {outcome} ({now - self._trial_start:.1f}s) | {self.bar.tick()}"
            if self._redrawn():
                self.bar.write(self._begun + ended)
            else:
                print(ended, file=self.stream, flush=True)
            return
        print(
            f" {outcome} ({now - self._trial_start:.1f}s) | {clock(now - self.started)} elapsed"
            + (f", ETA {clock(eta)}" if eta is not None else ""),
            file=self.stream,
            flush=True,
        )
