"""A registry: names a study file may use, each bound to the function that builds what it names.

Datasets, model families and optimizers each keep one, beside what they
register; the schema asks a registry for its names, so a registry imports
nothing of the schema and no backend.
"""

from __future__ import annotations

from typing import Callable


class Registry:
    def __init__(self, what: str):
        self.what = what  # e.g. "dataset", for messages
        self._entries: dict[str, Callable] = {}

    def register(self, name: str):
        """A decorator: ``@REGISTRY.register("name")`` binds ``name`` to the decorated function."""

        def bind(fn: Callable) -> Callable:
            self._entries[name] = fn
            return fn

        return bind

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __getitem__(self, name: str) -> Callable:
        return self._entries[name]
