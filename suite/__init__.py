"""Reproducible benchmarks for deep-learning training folklore.

A study flows through the subpackages in this order, driven by ``running`` (``suite.cli`` is the command):

    study     the study file -> a ResolvedStudy (cells x seeds), validated, before anything trains
    search    keras-tuner oracles and tuners decide which trial runs next (and re-tune nuisance settings)
    train     one trial: data -> seed -> build -> fit -> measure
    record    MLflow holds every run; provenance says where each number came from
    analyze   recorded trials -> summaries, verdicts with their statistics, figures, the report

Beneath the flow:

    kinds     what a study can claim: one module per kind of expectation, with its test (the registry KINDS)
    usercode  the user's own model families, datasets and keras-tuner build functions
    ground    errors, the console, stopping, timing, field types, and process.prepare()

Imports run down these lists, and nothing below ``study`` imports the schema at run time.
"""

from suite.usercode.plugins import register_dataset, register_model  # the user's own families and datasets

__all__ = ["register_dataset", "register_model"]
__version__ = "0.1.0"
