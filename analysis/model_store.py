"""Model files: safe skops persistence, deterministic bytes, versions.

A model *version* is ``YYYYMMDD-<8 hex>``: the training date and the first 8
hex digits of a SHA-256 over the corpus checksum, extra labels and training
parameters. A version lives in one model directory as three files::

    sentiment-<version>.skops   theme-<version>.skops   <version>.json

The JSON holds the metadata (corpus checksum, rows per label, parameters,
library versions, metrics, created time).

Safety: models are loaded with :mod:`skops.io`, never pickle. Before loading,
the types in the file that skops does not trust by default are listed with
``skops.io.get_untrusted_types`` and checked against :data:`ALLOWED_TYPES`
(this project's transformers and the few scikit-learn internals the pipelines
use). A file with any other type is refused with :class:`UntrustedModelError`,
so a tampered or foreign model file cannot run code.

Determinism: skops names array files by ``id()`` and zip entries carry the
current time, so two identical models would give different bytes.
:func:`canonical_skops` renumbers ids in order of appearance and rewrites the
zip with fixed timestamps, so training twice on the same inputs yields
byte-identical files (checked by the tests).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path



def _shipped_model_dir() -> Path:
    """``models/`` of the source tree, or of an installed wheel (the data package ``rapport_models``).

    The source tree is recognised by its setup.cfg beside ``models/``, so an
    unrelated top-level ``models`` folder in site-packages is never taken.
    """
    root = Path(__file__).resolve().parent.parent
    if (root / "setup.cfg").is_file() and (root / "models").is_dir():
        return root / "models"
    spec = importlib.util.find_spec("rapport_models")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return root / "models"


DEFAULT_MODEL_DIR = _shipped_model_dir()
TASKS = ("sentiment", "theme")

#: Types a model file may contain beyond those skops trusts by default.
ALLOWED_TYPES = frozenset(
    {
        "analysis.features.Tokenizer",
        "analysis.features.WordNgrams",
        "analysis.features.CharNgrams",
        "analysis.features.LexiconFeatures",
        "analysis.vector_features.WordVectorMeans",
        "analysis.vector_features.WordClusters",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.model_selection._split.StratifiedKFold",
    }
)

_VERSION_RE = re.compile(r"^\d{8}-[0-9a-f]{8}$")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class ModelNotFound(LookupError):
    """No (or not the requested) model version in the given directories."""


class UntrustedModelError(ValueError):
    """A model file contains types outside :data:`ALLOWED_TYPES`."""


# --------------------------------------------------------------------------- #
# Single pipeline files
# --------------------------------------------------------------------------- #
def canonical_skops(data: bytes) -> bytes:
    """Rewrite a skops zip so its bytes depend only on the model's content."""
    src = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(src.read("schema.json"))
    ids: dict[int, int] = {}
    files: dict[str, str] = {}

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "__id__" and isinstance(value, int):
                    node[key] = ids.setdefault(value, len(ids))
                elif key == "file" and isinstance(value, str) and value in src.namelist():
                    if value not in files:
                        files[value] = f"{len(files)}{Path(value).suffix}"
                    node[key] = files[value]
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        def write(name: str, payload: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, payload, compresslevel=6)

        write("schema.json", json.dumps(schema, indent=2).encode("utf-8"))
        for old, new in sorted(files.items(), key=lambda kv: int(Path(kv[1]).stem)):
            payload = src.read(old)
            if old.endswith(".npz"):  # scipy's npz is itself a zip with timestamps
                payload = _canonical_zip(payload)
            write(new, payload)
    return out.getvalue()


def _canonical_zip(data: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            new = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME)
            new.compress_type = info.compress_type
            new.external_attr = 0o644 << 16
            dst.writestr(new, src.read(info.filename))
    return out.getvalue()


def save_pipeline(pipeline, path: Path) -> str:
    """Write ``pipeline`` to ``path`` with skops; return the file's SHA-256."""
    import hashlib

    import skops.io as sio

    data = canonical_skops(sio.dumps(pipeline))
    _atomic_write(Path(path), data)
    return hashlib.sha256(data).hexdigest()


def check_trusted(data: bytes, source: str = "model file") -> list[str]:
    """Return the types to pass as ``trusted=``; refuse anything not allowed."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # not a skops zip at all
        raise UntrustedModelError(f"{source} is not a readable skops file: {exc}") from exc
    refused = sorted(set(untrusted) - ALLOWED_TYPES)
    if refused:
        raise UntrustedModelError(
            f"refusing to load {source}: it contains types outside the allow-list "
            f"{refused}. Only models trained by analysis.train can be loaded."
        )
    return list(untrusted)


def load_pipeline(path: Path):
    """Load a pipeline saved by :func:`save_pipeline`, checking its types first."""
    import skops.io as sio

    data = Path(path).read_bytes()
    trusted = check_trusted(data, str(path))
    return sio.loads(data, trusted=trusted)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- #
# Versions
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class ModelVersion:
    """One complete version found in a model directory."""

    version: str
    directory: Path
    metadata: dict

    def path(self, task: str) -> Path:
        return self.directory / f"{task}-{self.version}.skops"

    @property
    def created(self) -> str:
        return str(self.metadata.get("created", ""))


def make_version(date: str, digest: str) -> str:
    """``YYYYMMDD-<first 8 hex of digest>``."""
    return f"{date}-{digest[:8]}"


def save_version(out_dir: Path, version: str, pipelines: dict, metadata: dict) -> ModelVersion:
    """Write both pipelines and the metadata JSON (written last: marks completion)."""
    out_dir = Path(out_dir)
    meta = dict(metadata)
    meta["version"] = version
    meta["files"] = {}
    for task in TASKS:
        path = out_dir / f"{task}-{version}.skops"
        meta["files"][path.name] = {"sha256": save_pipeline(pipelines[task], path)}
    _atomic_write(out_dir / f"{version}.json",
                  (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return ModelVersion(version, out_dir, meta)


def list_versions(model_dirs) -> list[ModelVersion]:
    """Complete versions in ``model_dirs``, oldest first (by created time, then name).

    A version counts only when its JSON and both ``.skops`` files exist.
    Directories that do not exist are skipped.
    """
    found = []
    for d in model_dirs:
        d = Path(d)
        if not d.is_dir():
            continue
        for meta_path in sorted(d.glob("*.json")):
            version = meta_path.stem
            if not _VERSION_RE.match(version):
                continue
            if not all((d / f"{t}-{version}.skops").exists() for t in TASKS):
                continue
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            found.append(ModelVersion(version, d, meta))
    return sorted(found, key=lambda v: (v.version[:8], v.created, v.version))


def find_version(model_dirs, version: str | None = None) -> ModelVersion:
    """The pinned ``version``, or the newest one across ``model_dirs``."""
    model_dirs = [Path(d) for d in model_dirs]
    versions = list_versions(model_dirs)
    if version is not None:
        matches = [v for v in versions if v.version == version]
        if not matches:
            known = ", ".join(v.version for v in versions) or "none"
            raise ModelNotFound(
                f"model version {version!r} not found in {[str(d) for d in model_dirs]} "
                f"(available: {known})"
            )
        return matches[-1]
    if not versions:
        raise ModelNotFound(
            f"no trained model in {[str(d) for d in model_dirs]}: expected "
            "sentiment-<version>.skops, theme-<version>.skops and <version>.json. "
            "Train one with `python -m analysis.train`."
        )
    return versions[-1]
