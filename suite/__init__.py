"""Reproducible benchmarks for deep-learning training folklore.

A study flows through the subpackages in this order:

    study     the study file -> a ResolvedStudy (cells x seeds), validated, before anything trains
    search    keras-tuner oracles and tuners decide which trial runs next (and re-tune nuisance settings)
    train     one trial: data -> seed -> build -> fit -> measure
    record    MLflow holds every run; provenance says where each number came from
    analyze   recorded trials -> summaries, verdicts with their statistics, figures, the report

``suite.running.runner`` drives a study through them; ``suite.cli`` is the command. Imports run
down this list, and nothing below ``study`` imports the schema at run time.
"""

from suite.usercode.plugins import register_dataset, register_model  # the user's own families and datasets

__all__ = ["register_dataset", "register_model"]
__version__ = "0.1.0"
