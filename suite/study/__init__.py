"""study: the study file, from YAML to a resolved study (cells x seeds), before anything trains.

Owns the schema of every block (``settings``, ``tuning``, ``expectations`` for the
target and references, ``schema``; each ``expect:`` entry's fields are its kind's, from
``suite.kinds``), loading and profiles (``loading``, ``profiles``), the grid of cells
(``grid``), the paths of settings (``paths``), which settings apply to a family
(``applicable``), the geometry of search ranges (``space``) and one-line error messages
(``messages``). Hands on a
``ResolvedStudy``: validated settings per cell, seeds, target, expectations and
the hashes that identify its trials. Imports no backend: checking a file is
instant.
"""

from suite.study.expectations import TARGET_METRICS, Reference, Target
from suite.study.grid import expand_grid, override
from suite.study.loading import find_study, load_study, parse_yaml
from suite.study.profiles import apply_overrides
from suite.study.schema import Cell, ResolvedStudy, Study
from suite.study.settings import Augment, Data, KFold, Model, Pretrain, Settings, Train
from suite.study.tuning import Range, Tune

__all__ = [
    "TARGET_METRICS", "Augment", "Cell", "Data", "KFold", "Model", "Pretrain",
    "Range", "Reference", "ResolvedStudy", "Settings", "Study", "Target", "Train", "Tune", "apply_overrides", "expand_grid",
    "find_study", "load_study", "override", "parse_yaml",
]
