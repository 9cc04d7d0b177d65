"""Reproducible benchmarks for deep-learning training folklore.

A study file (``studies/*.yaml``) states a claim and a grid of settings;
``suite.runner`` runs every cell and seed as a keras-tuner trial, records it in
MLflow, and ``suite.report`` turns what MLflow holds into a pandas report.
"""

__version__ = "0.1.0"
