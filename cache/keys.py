"""Cache keys: sha256 of a documented canonical text, and the per-asset invalidation tag.

The canonical text is a compact JSON array (no spaces, UTF-8, non-ASCII kept as is) whose first
two items name the kind of key and the layout version, e.g. for a derived image::

    ["derived",1,"demo","shoes/red",1700000000,"c_fill,h_300,w_400","webp"]

JSON (rather than joining with a separator) keeps the text unambiguous whatever characters a
public_id or plan contains, so two different inputs can never hash the same text. Bump the layout
number to invalidate every key of one kind at once after a change in what the bytes mean.
"""

from __future__ import annotations

import hashlib
import json

__all__ = ["asset_tag", "derived_key", "fetched_body_key", "fetched_key", "matte_key"]

_DERIVED_LAYOUT = 1
_MATTE_LAYOUT = 1
_FETCHED_LAYOUT = 1


def _digest(parts: list[object]) -> str:
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def derived_key(cloud: str, public_id: str, version: int, canonical_plan: str, fmt: str) -> str:
    """Key of one derived image: sha256 hex of `["derived",1,cloud,public_id,version,plan,fmt]`."""
    return _digest(["derived", _DERIVED_LAYOUT, cloud, public_id, version, canonical_plan, fmt])


def matte_key(cloud: str, public_id: str, version: int, model: str, options_canonical: str) -> str:
    """Key of one matte: sha256 hex of `["matte",1,cloud,public_id,version,model,options]`."""
    return _digest(["matte", _MATTE_LAYOUT, cloud, public_id, version, model, options_canonical])


def fetched_key(url: str) -> str:
    """Key of what is known about a fetched URL (validators, when it was checked, its content):
    sha256 hex of `["fetched",1,url]`."""
    return _digest(["fetched", _FETCHED_LAYOUT, url])


def fetched_body_key(content: str) -> str:
    """Key of a fetched source's bytes, by content (md5 hex): sha256 hex of
    `["fetched-body",1,content]` (two URLs with the same bytes share one entry)."""
    return _digest(["fetched-body", _FETCHED_LAYOUT, content])


def asset_tag(cloud: str, public_id: str) -> str:
    """Tag grouping every derived file and matte of one asset: `cloud/public_id`.

    Cloud names never contain `/`, so the first `/` splits the tag unambiguously.
    """
    return f"{cloud}/{public_id}"
