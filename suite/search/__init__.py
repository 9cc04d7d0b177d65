"""search: what to try next, through keras-tuner.

Owns the oracles that enumerate a study's cells x seeds (``oracle``), the tuner
that runs the oracle's trials and records each (``tuner``), the nuisance search
that re-tunes settings per cell (``nuisance``), the sweep's oracle with its boundary check
(``sweep``), and the distributed chief and workers (``distributed``) with who may talk to
them (``access``). Takes a resolved study; hands each trial to
``suite.train`` and its result to ``suite.record``.
"""
