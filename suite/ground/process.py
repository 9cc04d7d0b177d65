"""What a process must set before it trains, tracks or draws: set here, once, by ``prepare``.

The entry points call it first: the ``suite`` command (``cli.main``, and so every worker it
starts) and the test session (``tests/conftest.py``). No import sets any of it in passing, so
importing a module of the suite changes nothing in the process.

Determinism of the backend's own ops is the one exception: it needs the backend imported, which
light commands never do, so ``train.backend`` turns it on before a trial's first number.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

# Libraries whose start-up notices and warnings are theirs to fix, not the user's to read: a trial's
# numbers and the suite's own messages are what the terminal shows.
# NumPy, SciPy and pandas warn on an empty or constant sample, which the statistics check for themselves.
NOISY = ("tensorflow", "keras", "keras_tuner", "absl", "mlflow", "alembic", "sqlalchemy", "google", "jax", "optree",
         "numpy", "scipy", "pandas", "sklearn", "matplotlib")


def prepare(quiet: bool = True) -> None:
    """Set what this process needs; idempotent, and a variable the caller set already is kept.

    - ``XLA_FLAGS``: XLA on a GPU may sum with atomics, whose order changes the last bits from run to run,
      unless told to be deterministic. JAX reads the flag when it starts its first device, so it is set
      before any backend is imported.
    - ``JAX_COMPILATION_CACHE_DIR`` (``.suite/jax-cache`` of the workspace) and its thresholds (none): compiled
      JAX programs kept on disk and reused across processes, bit for bit the same.
    - ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``: a dead tracking server fails in seconds, not minutes.
    - ``MPLBACKEND``: figures are written to files, never shown in a window.
    - with ``quiet``: TensorFlow's C++ log level, MLflow's logging level, and the warnings and loggers of
      the libraries in ``NOISY`` (the suite's own warnings, and the user's, still show).
    """
    if "xla_gpu_deterministic_ops" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_gpu_deterministic_ops=true").strip()
    # JAX's persistent compilation cache: a program compiled once (a group's epoch, on JAX) is loaded by every later
    # process, and by a later group of the same program in this one, instead of compiled again; the loaded program
    # is the same to the bit (its key is the program, the compile options, the JAX version and the device)
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                          str(Path(os.environ.get("SUITE_HOME", ".")).resolve() / ".suite" / "jax-cache"))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    os.environ.setdefault("MPLBACKEND", "Agg")
    if quiet:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        warnings.filterwarnings("ignore", module="(" + "|".join(NOISY) + r")(\.|$)")
        for name in NOISY:
            logging.getLogger(name).setLevel(logging.ERROR)
