"""Where a number came from: commit, versions, backend and device.

Recorded as tags on every MLflow run and printed in every report, so a figure
can be traced to the code and machine that produced it.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from suite import backend

CODE_ROOT = Path(__file__).resolve().parent.parent  # the commit recorded is the code's, not the workspace's
CODE_PATHS = ("suite", "studies", "pyproject.toml", "Makefile")
PACKAGES = ("tensorflow", "keras", "keras-tuner", "mlflow", "numpy", "pandas", "scikit-learn", "jax", "torch")


def _git(*args: str, cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


# The modules that decide a trial's numbers. Reporting, statistics, tracking and the CLI may change
# without making recorded trials stale: `suite report` rebuilds everything from the record.
TRIAL_MODULES = (
    "study", "data", "models", "training", "trial", "convergence", "classification", "backend", "search", "oracle", "transfer",
    "diagnostics",
)


@lru_cache(maxsize=4)
def code_version(root: Path) -> str:
    """A hash of the source of the modules that compute a trial: part of its identity, with or without git."""
    h = hashlib.sha256()
    for path in sorted(p for p in (root / "suite").glob("*.py") if p.stem in TRIAL_MODULES):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


@lru_cache(maxsize=4)
def collect(root: Path) -> dict[str, str]:
    """Tags describing the code and environment of this process."""
    commit = _git("rev-parse", "HEAD", cwd=root) or "unknown"
    # Dirty means the code or the study files differ from the commit; regenerated results/ do not count,
    # or `make studies` would mark every study after the first as dirty.
    status = _git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS, cwd=root)
    tags = {
        "git.commit": commit,
        "suite.code_version": code_version(root),
        "git.dirty": "unknown" if status is None else str(bool(status)).lower(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "backend": backend.name(),
        "device": backend.device(),
    }
    for package in PACKAGES:
        try:
            tags[f"version.{package}"] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return tags
