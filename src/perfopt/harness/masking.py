"""Mask credentials before anything is written (results, logs, reports)."""

from __future__ import annotations

import re
from typing import Any

from perfopt import urls

# libpq key=value strings and similar: password=secret
_KV_PASSWORD = re.compile(r"(?i)\b(password|passwd|pwd)=([^\s&;'\"]+)")
MASK = "***"


def mask_url(text: str) -> str:
    """Return `text` with passwords in URLs and password=... pairs replaced by ***."""
    text = urls.mask_url(text)  # scheme://user:password@ -> scheme://user:***@
    return _KV_PASSWORD.sub(lambda m: f"{m.group(1)}={MASK}", text)


def mask_tree(value: Any) -> Any:
    """Return a copy of a JSON-like value with every string (keys too) masked."""
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, dict):
        return {mask_tree(k): mask_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_tree(v) for v in value]
    return value
