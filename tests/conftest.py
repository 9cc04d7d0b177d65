"""The test session prepares its process as the ``suite`` command does, before anything is imported."""

from suite.ground import process

process.prepare()
