"""remove.bg-style batch API (`/v1.0/removebg`, `/v1.0/account`), async tasks (`/v2/tasks`) and
its OpenAPI document, behind the `RemoveBgDeps` seam the app implements."""

from alphacdn.removebg.deps import ApiKey, CutoutResult, RemoveBgDeps
from alphacdn.removebg.errors import ApiError
from alphacdn.removebg.params import RemoveBgParams, parse_params
from alphacdn.removebg.routes import RemoveBgApi, removebg_routes

__all__ = [
    "ApiError",
    "ApiKey",
    "CutoutResult",
    "RemoveBgApi",
    "RemoveBgDeps",
    "RemoveBgParams",
    "parse_params",
    "removebg_routes",
]
