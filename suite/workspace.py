"""The workspace: where study files are read and results, the MLflow store and tuner state are written.

``SUITE_HOME`` (default: the current folder) holds ``studies/``, ``results/``
and ``.suite/``. Every file the suite writes there is written atomically: a
crash leaves the previous version, never half a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from suite.record import Tracker
    from suite.study import ResolvedStudy


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def current(cls) -> "Workspace":
        return cls(Path(os.environ.get("SUITE_HOME", ".")).resolve())

    @property
    def studies(self) -> Path:
        return self.root / "studies"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def state(self) -> Path:
        return self.root / ".suite"

    def tracking_uri(self) -> str:
        """``MLFLOW_TRACKING_URI`` if set, else an SQLite store inside the workspace."""
        return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(self.state / 'mlflow.db').resolve()}"

    def tracker(self) -> Tracker:
        from suite.record import Tracker  # MLflow: imported by the commands that record or read runs

        uri = self.tracking_uri()
        # A local store keeps artifacts beside it; a tracking server decides where they go (it may be elsewhere).
        return Tracker(uri, artifact_root=self.state / "artifacts" if uri.startswith("sqlite:") else None)

    def report_dir(self, resolved: ResolvedStudy) -> Path:
        # One folder per profile, so a smoke run never overwrites a committed quick report.
        # Study and profile names are validated as [a-z0-9_-], so this cannot leave results/.
        return self.results / resolved.name / resolved.profile_name


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
