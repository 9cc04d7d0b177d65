"""A registry: names a study file may use, each bound to what builds what it names.

Datasets, model families and optimizers each keep one, beside what they
register; the schema asks a registry for its names, so a registry imports
nothing of the schema and no backend. A model family's entry is a ``Family``:
its builder with everything the suite knows of it, built-in and plugin alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Family:
    """One model family: its builder ``(model settings, input shape, classes, augment) -> keras.Model``, and
    for a plugin's its declared settings (with their defaults); for a keras-tuner build function, its hp.*
    ranges as ``tune.space`` entries and the hp.* names that change no layer (inert: not searched)."""

    build: Callable
    settings: dict[str, Any] = field(default_factory=dict)
    space: dict[str, Any] = field(default_factory=dict)
    inert: tuple[str, ...] = ()
    plugin: bool = False
    hypermodel: bool = False
    # a keras-tuner HyperModel's own fit(): ``fit(settings) -> settings`` with what it passes to model.fit taken
    # (its batch_size, its shuffle), and the settings it sets (``train.batch_size``, ``data.order``)
    fit: Callable | None = None
    fit_sets: tuple[str, ...] = ()

    def __call__(self, *args, **kwargs):
        return self.build(*args, **kwargs)


class Registry:
    def __init__(self, what: str, entry: Callable | None = None):
        self.what = what  # e.g. "dataset", for messages
        self._entries: dict[str, Any] = {}
        self._entry = entry  # what a decorated function becomes (e.g. a Family); the function itself if None

    def register(self, name: str):
        """A decorator: ``@REGISTRY.register("name")`` binds ``name`` to the decorated function."""

        def bind(fn: Callable) -> Callable:
            self._entries[name] = self._entry(fn) if self._entry else fn
            return fn

        return bind

    def add(self, name: str, entry: Any) -> None:
        """Bind ``name`` to a whole entry (a plugin's ``Family``)."""
        self._entries[name] = entry

    def get(self, name: str, default=None):
        return self._entries.get(name, default)

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __getitem__(self, name: str) -> Callable:
        return self._entries[name]
