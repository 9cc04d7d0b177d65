"""The test session prepares its process as the ``suite`` command does, before anything is imported.

Its backend is TensorFlow unless the environment names another: ``suite run``'s default executor would otherwise
pick JAX for a study whose trials group and import it into this process beside TensorFlow (which crashed a test
once). The default's choice is tested in fresh interpreters (tests/test_grouped.py, tests/test_executor.py)."""

import os

from suite.ground import process

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
process.prepare()
