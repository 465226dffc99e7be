"""Masking credentials before anything is printed or saved (results, logs, reports)."""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
# scheme://user:password@host -> scheme://user:***@host, anywhere in a string (URLs
# also appear inside error texts and command lines).
_CREDENTIALS = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@"
)
# libpq key=value strings and similar: password=secret
_KV_PASSWORD = re.compile(r"(?i)\b(password|passwd|pwd)=([^\s&;'\"]+)")


def mask_url(text: str) -> str:
    """Return text with every URL password and password=... value replaced by ***."""
    text = _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
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
