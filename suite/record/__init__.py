"""record: MLflow as the record of every study run and trial, and where each number came from.

Owns the store (``store``), writing runs (``writing``), reading them back
(``reading``), what a rerun may keep (``bookkeeping``) and provenance tags
(``provenance``); reruns that check a record live in ``suite.running.replicate``. Takes a
resolved study and trial results; hands on the recorded trials as data frames
for ``suite.analyze``.
"""

from suite.record.bookkeeping import Bookkeeping
from suite.record.reading import Reader
from suite.record.writing import EPOCH_METRICS, Writer


class Tracker(Writer, Reader, Bookkeeping):
    """The one handle on the store the rest of the suite holds: it writes, reads and keeps the books."""


__all__ = ["EPOCH_METRICS", "Tracker"]
