"""Upload presets, as Cloudinary has them: named upload settings an upload names with
`upload_preset`; an *unsigned* preset lets a browser upload without the api_secret.

Presets come from the config file (`[upload_presets.<name>]`) and from the admin API
(`cloudinary.api.create_upload_preset(name=…, unsigned=True, folder=…, tags=…, eager=…,
background_removal=…, allowed_formats=…)`); admin-made ones are one JSON file under the state
dir (atomic replace, re-read when it changes, so every worker sees the same table) and override
configured ones of the same name.

How an upload uses its preset (`UploadPreset.apply`):

    signed    the call's own parameters win; the preset fills the rest
    unsigned  the call may only name what a browser may choose (`public_id` unless the preset
              has `disallow_public_id`, `folder` unless the preset sets one, `tags`, which join
              the preset's, `context`, `filename`); everything else comes from the preset, and
              an existing asset is never overwritten
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from alphacdn.cache.named import NamedStore
from alphacdn.transform.booleans import parse_bool
from alphacdn.transform.errors import InvalidRequest

_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
#: formats `allowed_formats` may name (what uploads accept), as the SDK spells them
_FORMATS = {"jpg", "jpeg", "png", "webp", "avif", "gif", "tif", "tiff", "heic", "heif", "svg"}
_TEXT = ("folder", "eager", "background_removal", "notification_url", "eager_notification_url")
_FLAGS = ("eager_async", "overwrite", "invalidate", "disallow_public_id")
_LISTS = ("tags", "allowed_formats")
#: every setting a preset may hold (besides `unsigned`)
SETTINGS = frozenset(_TEXT + _FLAGS + _LISTS)
#: what an unsigned upload call may set itself (besides the file and the preset's name); the
#: SDK also sends `timestamp`
UNSIGNED_CALL = frozenset({"public_id", "folder", "tags", "context", "filename", "timestamp"})


def _items(value: object) -> list[str]:
    """A list of strings from a list or a comma-separated text (as the SDK sends them)."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise ValueError("a list of texts or a comma-separated text")


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return parse_bool(str(value))


def preset_settings(given: Mapping[str, object]) -> tuple[bool, dict[str, Any]]:
    """(unsigned, settings) from what a config table or an admin call gives; ValueError naming
    the first bad or unknown key."""
    unsigned = False
    settings: dict[str, Any] = {}
    for key, value in given.items():
        if value is None or value == "":
            continue
        try:
            if key == "unsigned":
                unsigned = _flag(value)
            elif key in _TEXT:
                if not isinstance(value, str):
                    raise ValueError("a text")
                settings[key] = value.strip()
            elif key in _FLAGS:
                settings[key] = _flag(value)
            elif key in _LISTS:
                settings[key] = _items(value)
            else:
                known = ", ".join(sorted(SETTINGS | {"unsigned"}))
                raise ValueError(f"unknown (a preset may set {known})")
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    bad = [f for f in settings.get("allowed_formats", []) if f.lower() not in _FORMATS]
    if bad:
        raise ValueError(f"allowed_formats: unknown format {bad[0]!r}")
    return unsigned, settings


@dataclass(frozen=True, slots=True)
class UploadPreset:
    name: str
    unsigned: bool
    settings: Mapping[str, Any]

    def json(self) -> dict[str, Any]:
        """The admin API's shape of a preset."""
        return {"name": self.name, "unsigned": self.unsigned, "settings": dict(self.settings)}

    def apply(self, params: Mapping[str, Any], *, signed: bool) -> dict[str, Any]:
        """The upload's parameters with this preset's settings (see the module docstring);
        400 naming a parameter an unsigned call may not set."""
        s = self.settings
        if signed:
            merged = {k: _as_param(v) for k, v in s.items()}
            merged.update(params)
            return merged
        for key, value in params.items():
            if key in ("file", "upload_preset", "api_key") or value in ("", None):
                continue
            if key not in UNSIGNED_CALL:
                raise InvalidRequest(
                    f"Parameter {key} is not allowed in an unsigned upload (set it in the "
                    f"upload preset {self.name})"
                )
        merged = {k: _as_param(v) for k, v in s.items() if k != "tags"}
        for key in ("public_id", "context", "filename", "timestamp"):
            if params.get(key):
                merged[key] = params[key]
        if params.get("public_id") and s.get("disallow_public_id"):
            raise InvalidRequest(
                f"public_id is not allowed: upload preset {self.name} sets disallow_public_id"
            )
        if params.get("folder") and not s.get("folder"):
            merged["folder"] = params["folder"]
        call_tags = params.get("tags") or []
        if isinstance(call_tags, str):
            call_tags = _items(call_tags)
        tags = [*s.get("tags", []), *(t for t in call_tags if t not in s.get("tags", []))]
        if tags:
            merged["tags"] = tags
        merged["overwrite"] = "false"  # an unsigned upload never replaces an asset
        return merged


def _as_param(value: Any) -> Any:
    """A setting as an upload form parameter would carry it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return value


class UploadPresets:
    """`name → UploadPreset`: the config file's, with admin-made ones over them, kept in a
    `NamedStore` (a JSON file under the state dir, or Redis in a fleet: every replica sees the
    same presets), each preset as its JSON text."""

    def __init__(self, store: NamedStore, configured: Mapping[str, Mapping[str, Any]]) -> None:
        self._store = store
        self._configured = {
            name: UploadPreset(name, bool(p.get("unsigned")), dict(p.get("settings", {})))
            for name, p in configured.items()
        }
        self._lock = threading.Lock()
        self._version: Hashable = object()  # matches no store version: the first read loads
        self._stored: dict[str, UploadPreset] = {}

    def _refresh(self) -> None:
        version = self._store.version()
        if version != self._version:
            stored = {}
            for name, text in self._store.load().items():
                data = json.loads(text)
                stored[name] = UploadPreset(name, bool(data["unsigned"]), data["settings"])
            self._stored, self._version = stored, version

    def get(self, name: str) -> UploadPreset | None:
        with self._lock:
            self._refresh()
            return self._stored.get(name) or self._configured.get(name)

    def all(self) -> list[UploadPreset]:
        with self._lock:
            self._refresh()
            merged = {**self._configured, **self._stored}
        return [merged[n] for n in sorted(merged)]

    def set(self, preset: UploadPreset) -> None:
        """Create or replace a preset (persisted)."""
        if not _NAME.match(preset.name):
            raise InvalidRequest(f"Invalid upload preset name: {preset.name!r}")
        text = json.dumps(
            {"unsigned": preset.unsigned, "settings": dict(preset.settings)}, sort_keys=True
        )
        with self._lock:
            self._store.set(preset.name, text)
            self._refresh()

    def delete(self, name: str) -> bool:
        """Remove an admin-made preset (configured ones stay)."""
        with self._lock:
            found = self._store.delete(name)
            self._refresh()
            return found


__all__ = ["SETTINGS", "UploadPreset", "UploadPresets", "preset_settings"]
