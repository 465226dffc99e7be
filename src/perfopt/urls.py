"""Masking credentials in URLs before anything is printed or saved."""

from __future__ import annotations

import re

# scheme://user:password@host -> scheme://user:***@host, anywhere in a string (URLs
# also appear inside error texts and command lines).
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@")


def mask_url(text: str) -> str:
    """Return text with the password of every URL in it replaced by ***."""
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
