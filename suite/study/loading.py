"""Reading a study file: safe YAML, the schema, every profile checked, the grid expanded, hashed.

A study file is data, never code: it is read with a safe YAML loader that
refuses tags building Python objects and repeated keys, and reads 1e-4 as a
number (YAML 1.2).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import yaml

from suite.ground.errors import StudyError
from suite.study.grid import check_design, check_expectations, expand_grid
from suite.study.messages import validate
from suite.study.profiles import apply_overrides, confirming
from suite.study.schema import NAME, Cell, ResolvedStudy, Study
from suite.study.settings import PLUGIN_HINT
from suite.usercode import plugins


class _Loader(yaml.SafeLoader):
    """Safe YAML that reads 1e-4 as a number (YAML 1.2) and rejects repeated keys."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _mapping(loader: _Loader, node: yaml.MappingNode):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"repeated key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_yaml(text: bytes | str, where: str) -> dict:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise StudyError(f"{where}: not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start})") from None
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise StudyError(f"{where}: invalid YAML{at}: {problem}") from None
    if not isinstance(raw, dict):
        raise StudyError(f"{where}: a study file must be a mapping of keys to values, got {type(raw).__name__}")
    return raw


def find_study(name_or_path: str, studies_dir: Path) -> Path:
    """A path to a file, or the name of a study in ``studies/``."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise StudyError(f"{name_or_path}: no such study file")
        return path
    if not NAME.match(name_or_path):
        raise StudyError(f"{name_or_path!r}: not a study name or a .yaml file")
    path = studies_dir / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in studies_dir.glob("*.yaml"))) or "none"
        raise StudyError(f"no study named {name_or_path!r} in {studies_dir} (known: {known})")
    return path


# No trial reads these. Rounds decide which trials run, never what one trial is: a study given rounds keeps its
# recorded first round.
PROSE = ("profiles", "title", "claim", "sources", "expect", "reference", "alpha", "design", "rounds")


def load_study(path: Path, profile: str | None = None, confirm: bool = False) -> ResolvedStudy:
    """The study at ``path`` with ``profile`` applied; ``confirm``: its confirming run, on fresh seeds.

    A family or dataset that no registry knows may be an installed package's (its ``suite.plugins`` entry
    point): those are loaded then, once, and the file is read again."""
    try:
        return _load_study(path, profile, confirm)
    except StudyError as e:
        if PLUGIN_HINT in str(e) and plugins.load_installed():
            return _load_study(path, profile, confirm)
        raise


def _load_study(path: Path, profile: str | None, confirm: bool) -> ResolvedStudy:
    data = path.read_bytes()
    raw = parse_yaml(data, str(path))
    study = validate(raw, where="")
    _resolve(raw, study, None)
    for name in study.profiles:  # every profile must be valid, not only the one run now
        _resolve(raw, study, name)
    if profile is not None and profile not in study.profiles:
        known = ", ".join(study.profiles) or "none"
        raise StudyError(f"profiles: no profile named {profile!r} in {path.name} (defined: {known})")
    resolved, cells = _resolve(raw, study, profile, confirm)
    cells = tuple(_files_found_from(path.parent, cell) for cell in cells)
    # Defaults left out: a new setting with a default must not change the identity of every recorded
    # trial. (A changed default changes study.py, hence the code version, which catches it.) What only
    # the report reads (the claim, its expectations, the design's reasons) is not the trials' identity.
    settings = resolved.model_dump(mode="json", exclude=set(PROSE), exclude_defaults=True)
    config = json.dumps({"profile": profile, **settings, **_data_files(cells)}, sort_keys=True)  # confirm: other seeds
    resolved = _baselines_measured(resolved, cells)
    return ResolvedStudy(
        study=resolved,
        profile=profile,
        path=path,
        file_sha=hashlib.sha256(data).hexdigest(),
        config_sha=hashlib.sha256(config.encode()).hexdigest(),
        cells=cells,
        confirm=confirm,
    )


def _baselines_measured(study: Study, cells: tuple[Cell, ...]) -> Study:
    """Every ``above: baseline`` (or ``below:``) measured on the study's own splits, now: never a number copied
    into the file, which a dropped or added column would leave stale (``train/baseline.py``). The cells the
    expectation covers must share their data settings, since the baseline is measured on one set of splits."""
    if not any(getattr(e, "baseline", False) for e in study.expect):
        return study
    from suite.kinds.base import same
    from suite.train import baseline
    from suite.train.kept import Kept

    kept, expect = Kept(), []
    for i, e in enumerate(study.expect):
        if not getattr(e, "baseline", False):
            expect.append(e)
            continue
        if e.metric not in baseline.MEASURED:
            raise StudyError(f"expect[{i}].metric: a baseline is measured on {', '.join(baseline.MEASURED)}, not {e.metric}")
        covered = [c for c in cells if all(same(c.values.get(k), v) for k, v in e.where.items())]
        data = {c.settings.data.model_dump_json() for c in covered}
        if len(data) != 1:
            raise StudyError(f"expect[{i}].above: a baseline is measured on one set of splits, but the cells it covers "
                             f"have {len(data)} data settings: narrow it with where:")
        expect.append(e.measured(*baseline.measure(covered[0].settings.data, e.metric, kept)))
    return study.model_copy(update={"expect": expect})


def _files_found_from(folder: Path, cell: Cell) -> Cell:
    """The cell with its ``data.path`` made absolute: a relative path is relative to the study file."""
    data = cell.settings.data
    if data.path is None or Path(data.path).is_absolute():
        return cell
    found = str((folder / data.path).resolve())
    return replace(cell, settings=cell.settings.model_copy(update={"data": data.model_copy(update={"path": found})}))


def _data_files(cells: tuple[Cell, ...]) -> dict:
    """The content hash of each data file the cells read: an edited file makes recorded trials stale."""
    paths = sorted({c.settings.data.path for c in cells if c.settings.data.path is not None})
    if not paths:
        return {}
    return {"data_files": [hashlib.sha256(Path(p).read_bytes()).hexdigest() if Path(p).is_file() else f"missing {p}" for p in paths]}


def _resolve(raw: dict, study: Study, profile: str | None, confirm: bool = False) -> tuple[Study, tuple[Cell, ...]]:
    where = f"profiles.{profile}: " if profile else ""
    if profile:
        raw = apply_overrides(raw, study.profiles[profile], where=f"profiles.{profile}")
    if confirm:
        raw = confirming(raw, where)
    if profile or confirm:
        study = validate(raw, where=where)
    cells = expand_grid(study, where=where)
    if profile is None:  # a profile may drop cells an expectation names: its verdict then says "no data"
        check_expectations(study)
        check_design(study)
    return study, cells

