"""The language: Cloudinary URL grammar → typed steps → Plan; canonical key; signing. Pure.

parse_url(path, named=…) → DeliveryRequest(plan=parse_chain(chain, named=…), signed_text, …)
canonical(plan) → text of the cache key          verify_url_signature(sig, signed_text, secret)
"""

from . import errors, steps, values
from .canonical import canonical, canonical_step
from .colors import NAMED_COLORS, format_color, parse_color
from .component import looks_like_param
from .errors import CdnError, InvalidTransformation
from .parse import MAX_COMPONENTS, MAX_NAMED_DEPTH, parse_chain
from .plan import Component, Output, Plan
from .registry import ACTIONS, CODES, STAGES, Qualifier, Range, Stage, action
from .signing import (
    api_sign_request,
    api_string_to_sign,
    sign_url,
    verify_api_signature,
    verify_url_signature,
)
from .steps import HINT_CLASSES, BackgroundRemoval, Resize, Step
from .syntax import syntax
from .url import DeliveryRequest, parse_url, smart_escape

__all__ = [
    "ACTIONS",
    "CODES",
    "HINT_CLASSES",
    "MAX_COMPONENTS",
    "MAX_NAMED_DEPTH",
    "NAMED_COLORS",
    "STAGES",
    "BackgroundRemoval",
    "CdnError",
    "Component",
    "DeliveryRequest",
    "InvalidTransformation",
    "Output",
    "Plan",
    "Qualifier",
    "Range",
    "Resize",
    "Stage",
    "Step",
    "action",
    "api_sign_request",
    "api_string_to_sign",
    "canonical",
    "canonical_step",
    "errors",
    "format_color",
    "looks_like_param",
    "parse_chain",
    "parse_color",
    "parse_url",
    "sign_url",
    "smart_escape",
    "steps",
    "syntax",
    "values",
    "verify_api_signature",
    "verify_url_signature",
]
