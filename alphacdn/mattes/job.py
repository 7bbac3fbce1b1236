"""What names a matte (content, model, the removal step's canonical text) and a queued matte job."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from alphacdn.cache import AssetRecord, matte_key
from alphacdn.transform import canonical_step
from alphacdn.transform.steps import BackgroundRemoval

#: the job kind of a delivery's matte
KIND = "matte"


def content_id(source: bytes) -> str:
    """What mattes are keyed by: the md5 of the source bytes (= the asset's etag)."""
    return hashlib.md5(source, usedforsecurity=False).hexdigest()


def content_matte_key(etag: str, model: str, removal: BackgroundRemoval) -> str:
    """The matte cache (and job) key of `removal` on the content `etag` with `model`."""
    return matte_key("content", etag, 0, model, canonical_step(removal))


@dataclass(frozen=True, slots=True)
class MatteJob:
    """What a queued matte job needs, as stored in the job payload."""

    cloud: str
    public_id: str
    version: int
    model: str
    fine_edges: bool
    hints: tuple[str, ...]
    #: the content's md5 ("" in jobs queued before it was recorded: computed from the bytes)
    etag: str = ""

    @property
    def removal(self) -> BackgroundRemoval:
        return BackgroundRemoval(self.fine_edges, self.hints)

    def payload(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud,
            "public_id": self.public_id,
            "version": self.version,
            "model": self.model,
            "fine_edges": self.fine_edges,
            "hints": list(self.hints),
            "etag": self.etag,
        }

    @classmethod
    def of(cls, asset: AssetRecord, model: str, removal: BackgroundRemoval) -> MatteJob:
        """The job that makes `removal`'s matte of the asset as it is now."""
        return cls(
            asset.cloud,
            asset.public_id,
            asset.version,
            model,
            removal.fine_edges,
            removal.hints,
            asset.etag,
        )

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> MatteJob:
        return cls(
            str(p["cloud"]),
            str(p["public_id"]),
            int(p["version"]),
            str(p["model"]),
            bool(p["fine_edges"]),
            tuple(p.get("hints", ())),
            str(p.get("etag", "")),
        )


__all__ = ["KIND", "MatteJob", "content_id", "content_matte_key"]
