"""`Mattes`: the one way to a matte, and the only writer of the matte cache.

Modules: `owner` (Mattes), `job` (keys, the queued job), `holds` (ALPHACDN_MATTE_WAIT),
`entries` (what a matte cache entry holds, its headers), `errors` (MatteTooLarge), `sessions`
(the model pieces from the settings).

    delivery      get(asset, removal) ── cached → (PNG, headers)
                                      └─ ensure: a job, once per key (≤ queue_max) → 423, or
                                         held until ready (ALPHACDN_MATTE_WAIT)
    job runner    handle(record) ─────────┐
    remove.bg     cutout(etag, read, …) ──┼→ single flight per key (in this process, and across
    upload, eager cutout(etag, read, …) ──┘  processes by claim) → an inference slot → run
    run           models.MatteModels.make (pure) → the matte cache (salient matte, this key)

Mattes are keyed by content: `(md5 of the source bytes, model, the canonical text of the
background-removal step)`, so the same bytes under two public_ids, or sent to the remove.bg API
and to the CDN, are matted once. Job state lives in the persisted job store, so a restart
re-queues jobs left "running" by a dead process and keeps the queued ones. A failed job answers
its error (422), never an eternal 423; so does a matte too large for the matte cache.
"""

from .errors import MatteTooLarge
from .job import KIND, MatteJob, content_id, content_matte_key
from .owner import Mattes
from .sessions import matte_models

__all__ = [
    "KIND",
    "MatteJob",
    "MatteTooLarge",
    "Mattes",
    "content_id",
    "content_matte_key",
    "matte_models",
]
