"""Upload-time work: `background_removal=cloudinary_ai[:hint…][:fine_edges]`, `eager`, webhooks.

background_removal  → answer `info.background_removal.cloudinary_ai.status = pending`, then a
                      job replaces the asset with the PNG cut-out (new version, original kept
                      as a backup) and POSTs `notification_url` with url + confidence.
eager (+ eager_async, eager_notification_url)
                    → render each chain into the derived cache (mattes first for chains that
                      start with `e_background_removal`), synchronously unless eager_async.

Notifications go through `alphacdn.net` (address guard, retries) and are signed as Cloudinary
signs them (`X-Cld-Timestamp`, `X-Cld-Signature`), with the secret of the upload's api_key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
from starlette.requests import Request

from alphacdn.access import asset_url
from alphacdn.assets import Assets
from alphacdn.base_url import base_url
from alphacdn.cache import AssetRecord, JobRecord, OriginalsStore
from alphacdn.delivery import Delivery
from alphacdn.jobs.runner import JobKind
from alphacdn.mattes import Mattes
from alphacdn.named import NamedTransformations
from alphacdn.net import send_webhook
from alphacdn.settings import HttpSettings
from alphacdn.transform import parse_chain
from alphacdn.transform.booleans import bool_param
from alphacdn.transform.errors import CdnError, InvalidRequest
from alphacdn.transform.steps import HINT_CLASSES, BackgroundRemoval
from alphacdn.transform.values import Format

log = logging.getLogger("alphacdn.jobs")

REMOVAL_KIND = "upload_removal"
EAGER_KIND = "eager"


def parse_removal_param(value: str) -> BackgroundRemoval:
    """`cloudinary_ai[:<hint>…][:fine_edges]` → BackgroundRemoval (400 naming a bad part)."""
    name, *opts = value.split(":")
    if name != "cloudinary_ai":
        raise InvalidRequest(f"Invalid background_removal value {value!r}: use cloudinary_ai")
    hints: list[str] = []
    fine = False
    for opt in opts:
        if opt == "fine_edges":
            fine = True
        elif opt in HINT_CLASSES:
            hints.append(opt)
        else:
            raise InvalidRequest(f"Invalid background_removal option {opt!r} in {value!r}")
    return BackgroundRemoval(fine_edges=fine, hints=tuple(sorted(set(hints))))


class UploadJobs:
    """The upload hook (`after_upload`) and the two job kinds it queues."""

    def __init__(
        self,
        http: HttpSettings,
        assets: Assets,
        named: NamedTransformations,
        delivery: Delivery,
        mattes: Mattes,
    ) -> None:
        self.http = http
        self.assets = assets
        self.named = named
        self.delivery = delivery
        self.mattes = mattes

    def kinds(self) -> dict[str, JobKind]:
        """The job kinds this part runs (for the runner's table, built by `create_app`)."""
        return {REMOVAL_KIND: JobKind(self.run_removal), EAGER_KIND: JobKind(self.run_eager)}

    async def after_upload(
        self, request: Request, record: AssetRecord, params: dict[str, Any]
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        base = base_url(request, self.http.public_url)  # never the Host header
        if params.get("background_removal"):
            removal = parse_removal_param(str(params["background_removal"]))
            payload = {
                "cloud": record.cloud,
                "public_id": record.public_id,
                "version": record.version,
                "fine_edges": removal.fine_edges,
                "hints": list(removal.hints),
                "base": base,
                "notification_url": params.get("notification_url", ""),
                "api_key": params.get("api_key", ""),
            }
            key = f"upload_removal:{record.cloud}/{record.public_id}@{record.version}"
            await anyio.to_thread.run_sync(
                lambda: self.mattes.jobs.submit(key, REMOVAL_KIND, payload)
            )
            self.mattes.runner.wake()
            extra["info"] = {"background_removal": {"cloudinary_ai": {"status": "pending"}}}
        if params.get("eager"):
            chains = [c for c in str(params["eager"]).split("|") if c]
            for chain in chains:
                parse_chain(_split_format(chain)[0], named=self.named.table())
            payload = {
                "cloud": record.cloud,
                "public_id": record.public_id,
                "version": record.version,
                "chains": chains,
                "base": base,
                "notification_url": params.get("eager_notification_url")
                or params.get("notification_url", ""),
                "api_key": params.get("api_key", ""),
            }
            is_async = bool_param("eager_async", params.get("eager_async", "false"))
            key = f"eager:{record.cloud}/{record.public_id}@{record.version}"
            if is_async:
                await anyio.to_thread.run_sync(
                    lambda: self.mattes.jobs.submit(key, EAGER_KIND, payload)
                )
                self.mattes.runner.wake()
                extra["eager"] = [{"transformation": c, "status": "pending"} for c in chains]
            else:
                extra["eager"] = await self._eager(payload)
        return extra

    # ── job handlers ─────────────────────────────────────────────────────────────────────────
    async def run_removal(self, job: JobRecord) -> dict[str, Any]:
        """Replace the asset with its cut-out (new version, original kept as backup)."""
        p = job.payload
        cloud, public_id = str(p["cloud"]), str(p["public_id"])
        current = await self.assets.stat(cloud, public_id)
        if current is None or current.version != int(p["version"]):
            return {"skipped": "asset changed or deleted"}
        removal = BackgroundRemoval(bool(p["fine_edges"]), tuple(p["hints"]))
        outcome = await self.mattes.cutout(
            current.etag,
            lambda: self.assets.originals.read(cloud, public_id, version=current.version),
            removal,
            tag=f"{cloud}/{public_id}",
        )
        info = {
            "background_removal": {
                "cloudinary_ai": {
                    "status": "complete",
                    "confidence": round(outcome.confidence, 4),
                    "hints": outcome.hints_report or None,
                    "route": outcome.route or None,
                }
            }
        }
        meta = {
            **current.meta,
            "format": "png",
            "width": outcome.width,
            "height": outcome.height,
            "info": info,
            "confidence": outcome.confidence,
        }
        record = await anyio.to_thread.run_sync(
            lambda: self.assets.originals.put(cloud, public_id, outcome.png, meta, backup=True)
        )
        await self.assets.invalidate(cloud, public_id)
        url = _url(str(p["base"]), "", record, secret=self._secret(p))
        body = {
            "notification_type": "info",
            "info_kind": "cloudinary_ai",
            "info_status": "complete",
            "public_id": public_id,
            "version": record.version,
            "url": url,
            "secure_url": url,
            "confidence": outcome.confidence,
            "info_data": info["background_removal"]["cloudinary_ai"],
        }
        if p.get("notification_url"):
            await self.notify(p, body)
        return body

    def _secret(self, p: dict[str, Any]) -> str | None:
        """The secret of the upload's api_key (signs a private asset's URLs)."""
        return self.http.api_keys.get(str(p.get("api_key", "")))

    async def notify(self, p: dict[str, Any], body: dict[str, Any]) -> None:
        """POST the job's notification, signed with its api_key's secret (failures logged)."""
        http = self.http
        secret = http.api_keys.get(str(p.get("api_key", ""))) or http.api_secret
        await send_webhook(
            str(p["notification_url"]),
            body,
            allow_private=http.allow_private_urls,
            sign_with=secret,
        )

    async def run_eager(self, job: JobRecord) -> dict[str, Any]:
        results = await self._eager(job.payload)
        return {"eager": results}

    async def _eager(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        """Render every eager chain into the derived cache; POST the notification if asked."""
        cloud, public_id = str(p["cloud"]), str(p["public_id"])
        asset = await self.assets.stat(cloud, public_id)
        if asset is None:
            return []
        results = []
        secret = self._secret(p)
        for raw in p["chains"]:
            chain, given = _split_format(raw)
            fmt = given or asset.format
            plan = parse_chain(chain, named=self.named.table())
            ext = Format("jpg" if fmt == "jpeg" else fmt)
            try:
                if plan.removal is not None:  # the matte first: its own key, and cached
                    await self.mattes.cutout(
                        asset.etag,
                        _reader(self.assets.originals, asset),
                        plan.removal,
                        tag=f"{cloud}/{public_id}",
                        must_store=True,
                    )
                served = await self.delivery.render(
                    asset, plan, fmt_key=(plan.output.format or ext).value, default_format=ext
                )
            except CdnError as exc:
                results.append({"transformation": raw, "status": "failed", "error": exc.public})
                continue
            await self.delivery.allow_eager(asset, chain, given)
            results.append(
                {
                    "transformation": raw,
                    "status": "processed",
                    "bytes": len(served.body),
                    "format": served.extension,
                    "url": _url(str(p["base"]), chain, asset, served.extension, secret),
                    "secure_url": _url(str(p["base"]), chain, asset, served.extension, secret),
                }
            )
        if p.get("notification_url"):
            await self.notify(
                p,
                {
                    "notification_type": "eager",
                    "public_id": public_id,
                    "version": asset.version,
                    "eager": results,
                },
            )
        return results


def _reader(originals: OriginalsStore, asset: AssetRecord) -> Callable[[], bytes]:
    """Reads the asset's bytes as they are now (blocking)."""
    return lambda: originals.read(asset.cloud, asset.public_id, version=asset.version)


def _split_format(eager: str) -> tuple[str, str | None]:
    """An eager entry as the SDK writes it, `<chain>[/<format>]` → (chain, format or None)."""
    chain, _, last = eager.rpartition("/")
    if last in ("jpg", "jpeg", "png", "webp", "avif", "gif"):
        return chain, last
    return eager, None


def _url(
    base: str,
    chain: str,
    record: AssetRecord,
    ext: str | None = None,
    secret: str | None = None,
) -> str:
    """A delivery URL of the asset (under its own type; signed for a private one)."""
    return asset_url(base, record, chain=chain, ext=ext, secret=secret)


__all__ = ["UploadJobs", "parse_removal_param"]
