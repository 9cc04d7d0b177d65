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

from suite.usercode import plugins

CODE_ROOT = Path(__file__).resolve().parents[2]  # the checkout holding suite/: the commit recorded is the code's, not the workspace's
CODE_PATHS = ("suite", "studies", "pyproject.toml", "Makefile")
PACKAGES = ("tensorflow", "keras", "keras-tuner", "mlflow", "numpy", "pandas", "scikit-learn", "jax", "torch")


def git(*args: str, cwd: Path, timeout: float = 10) -> tuple[str | None, str]:
    """git's output in ``cwd``, or None where it failed or could not run, with the last line of why."""
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"cannot run git ({error})"
    if out.returncode != 0:
        said = out.stderr.strip().splitlines()
        return None, said[-1] if said else "no output"
    return out.stdout, ""


# The modules that decide a trial's numbers. Reporting, statistics, tracking and the CLI may change
# without making recorded trials stale: `suite report` rebuilds everything from the record.
# The study file's schema, the whole of training, and the searches: those that choose a cell's settings, the
# tuner that runs and resumes their trials, the lanes that group candidates and the rule that stops losing ones.
TRIAL_MODULES = ("study/*.py", "train/*.py", "search/oracle.py", "search/nuisance.py", "search/sweep.py",
                 "search/tuner.py", "search/lanes.py", "search/losers.py", "usercode/hypermodel.py", "ground/fields.py")


def code_version(root: Path) -> str:
    """A hash of the source of the modules that compute a trial, and of the plugin files loaded (the user's
    families and datasets compute trials too): part of a trial's identity, with or without git."""
    if not plugins.PLUGINS.loaded:
        return _suite_code(root)
    return hashlib.sha256(f"{_suite_code(root)}|{plugins.digest()}".encode()).hexdigest()[:12]


@lru_cache(maxsize=4)
def _suite_code(root: Path) -> str:
    h = hashlib.sha256()
    package = root / "suite"
    for path in sorted({p for pattern in TRIAL_MODULES for p in package.glob(pattern)}):
        h.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def collect(root: Path) -> dict[str, str]:
    """Tags describing the code and environment of this process."""
    tags = {**_environment(root), "suite.code_version": code_version(root)}
    if plugins.PLUGINS.loaded:
        tags["suite.plugins"] = plugins.digest()
    return tags


def commit(root: Path) -> dict[str, str]:
    """The commit of the code and whether it differs from it (without waking Keras, for light commands).

    Dirty means the code or the study files differ from the commit; regenerated results/ do not count,
    or `make studies` would mark every study after the first as dirty."""
    status, _ = git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS, cwd=root)
    head, _ = git("rev-parse", "HEAD", cwd=root)
    return {"git.commit": head.strip() if head else "unknown",
            "git.dirty": "unknown" if status is None else str(bool(status)).lower()}


# The instruction-set features that decide which kernels a CPU runs (and so the last bits of a float sum):
# runs on CPUs that differ here need not agree to the last digit, only within seed noise.
SIMD_FEATURES = ("sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                 "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve", "sve2")


def cpu() -> dict[str, str]:
    """The CPU's model and its instruction-set features that matter for numerics (``cpu.model``, ``cpu.features``)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model in ("", platform.machine(), platform.processor()):
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return {"cpu.model": model, "cpu.features": " ".join(f for f in SIMD_FEATURES if f in flags) or "unknown"}


@lru_cache(maxsize=4)
def _environment(root: Path) -> dict[str, str]:
    from suite.train import backend  # the backend's name and device: this wakes Keras, so only when asked

    tags = {
        **commit(root),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "backend": backend.name(),
        "train.loop": backend.training_loop(),
        "train.xla": "off",  # XLA is never asked for: op determinism comes first, and its numerics differ
        "device": backend.device(),
        **cpu(),
    }
    for package in PACKAGES:
        try:
            tags[f"version.{package}"] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return tags
