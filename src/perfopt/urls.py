"""Masking secrets before anything is printed or saved: the one rule every output uses.

`mask_secrets(text)` replaces with `***`:

- the password of a URL, `scheme://user:PASSWORD@host`, whatever characters it holds
  (`/`, `@`, `:`, `%`...; inside free text a password ends at whitespace or a quote);
- the value of `key=value` and of a JSON `"key": "value"` whose key names a secret;
- the value after a command-line flag that names a secret: `--password X`,
  `--api-token X`;
- the value of any environment variable that names a secret (and any URL password
  found in the environment) wherever it appears as a whole token.

A name is a secret's when one of its parts (split at `-`, `_`, `.`) is password, passwd,
pwd, passphrase, secret, token, key, apikey, credential(s) or auth, or when it ends with
password, secret, token or apikey (`PGPASSWORD`, `AWS_SECRET_ACCESS_KEY`, `x-api-key`).
Masking errs on the side of hiding: `--sort-key VALUE` loses its value too.

`mask_argv` applies the same rule to a command line given as a list (a flag and its
value are two elements; a whole element may be a URL with spaces in its password), and
`mask_tree` to JSON-like values (lists are read as command lines, dict values under a
secret-named key are hidden whole). `mask_url` is the older name of `mask_secrets`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

MASK = "***"
_SECRET_PARTS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "key",
        "apikey",
        "credential",
        "credentials",
        "auth",
    }
)
_SECRET_ENDINGS = ("password", "passwd", "secret", "token", "apikey", "passphrase")
_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]*://"
# Greedy password: up to the last '@' of the token, so '/' '@' ':' inside it are covered.
_URL_IN_TEXT = re.compile(rf"(?P<head>{_SCHEME}[^\s:/@'\"]*):(?P<pw>[^\s'\"]*)@")
_URL_WHOLE = re.compile(rf"^(?P<head>{_SCHEME}[^\s:/@]*):(?P<pw>.*)@", re.S)
# A key or flag is found first; its value is read after it only when the name is a
# secret's, so the value of another key never hides the next one.
_KEY_EQ = re.compile(r"(?<![\w.-])(?P<key>-{0,2}[A-Za-z_][\w.-]*)=")
_KEY_VALUE = re.compile(r"\"[^\"\n]*\"|'[^'\n]*'|[^\s&;,'\"]+")
_JSON_PAIR = re.compile(r"\"(?P<key>[^\"\\]{1,80})\"(?P<sep>\s*:\s*)\"(?P<val>(?:[^\"\\]|\\.)*)\"")
_FLAG_SPACE = re.compile(r"(?<![\w-])(?P<key>--?[A-Za-z][\w-]*)[ \t]+")
_FLAG_VALUE = re.compile(r"\"[^\"\n]*\"|'[^'\n]*'|(?!--)[^\s'\"]+")
_MIN_ENV_SECRET = 4
# Variables whose names look secret but hold none (the shell's working folders).
_NOT_SECRET_VARS = frozenset({"PWD", "OLDPWD"})


def is_secret_name(name: str) -> bool:
    """Whether a key, flag or variable name names a secret (see the module docstring)."""
    lowered = name.lower().lstrip("-")
    if not lowered:
        return False
    if any(part in _SECRET_PARTS for part in re.split(r"[-_.\s]+", lowered)):
        return True
    return re.sub(r"[-_.]", "", lowered).endswith(_SECRET_ENDINGS)


def _secret_flag(text: str) -> bool:
    return text.startswith("-") and "=" not in text and is_secret_name(text)


def mask_secrets(text: str) -> str:
    """Return `text` with every secret it shows replaced by ***."""
    return _mask(text, _env_pattern(_env_key()))


def _mask(text: str, env_pattern: re.Pattern[str] | None) -> str:
    """mask_secrets with the environment's secret values already compiled (one pass
    over os.environ per call of the public functions, not per string of a tree)."""
    if not text:
        return text
    text = _URL_IN_TEXT.sub(lambda m: f"{m['head']}:{MASK}@", text)
    text = _mask_values(text, _KEY_EQ, _KEY_VALUE, is_secret_name)
    text = _JSON_PAIR.sub(
        lambda m: f'"{m["key"]}"{m["sep"]}"{MASK}"' if is_secret_name(m["key"]) else m.group(0),
        text,
    )
    text = _mask_values(text, _FLAG_SPACE, _FLAG_VALUE, _secret_flag)
    if env_pattern is not None:
        text = env_pattern.sub(MASK, text)
    return text


mask_url = mask_secrets  # the older name, kept for callers that mask URLs


def _mask_values(text: str, names: re.Pattern[str], values: re.Pattern[str], secret: Any) -> str:
    """Replace the value after each secret name that `names` finds (left to right)."""
    out: list[str] = []
    pos = 0
    for m in names.finditer(text):
        if m.start() < pos or not secret(m["key"]):
            continue
        value = values.match(text, m.end())
        if value is None:
            continue
        out += [text[pos : m.end()], MASK]
        pos = value.end()
    out.append(text[pos:])
    return "".join(out)


def mask_argv(argv: Sequence[Any]) -> list[Any]:
    """A command line with secrets masked: `--password X` hides X, URLs hide passwords."""
    return _argv(argv, _env_pattern(_env_key()))


def _argv(argv: Sequence[Any], env: re.Pattern[str] | None) -> list[Any]:
    out: list[Any] = []
    hide_next = False
    for item in argv:
        if not isinstance(item, str):
            out.append(_tree(item, None, env))
            hide_next = False
            continue
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        key, eq, _ = item.partition("=")
        if eq and key.startswith("-") and is_secret_name(key):
            out.append(f"{key}={MASK}")  # --api-token=VALUE: the rest of the element
            continue
        whole = _URL_WHOLE.match(item)
        if whole:
            item = f"{whole['head']}:{MASK}@" + item[whole.end() :]
        out.append(_mask(item, env))
        hide_next = _secret_flag(item)
    return out


def mask_tree(value: Any, key: str | None = None) -> Any:
    """A copy of a JSON-like value with every string masked (keys too; lists as argv)."""
    return _tree(value, key, _env_pattern(_env_key()))


def _tree(value: Any, key: str | None, env: re.Pattern[str] | None) -> Any:
    if key is not None and is_secret_name(key) and isinstance(value, str | int | float):
        return MASK if value not in ("", None) else value
    if isinstance(value, str):
        return _mask(value, env)
    if isinstance(value, dict):
        return {
            (_mask(k, env) if isinstance(k, str) else k): _tree(
                v, k if isinstance(k, str) else None, env
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return _argv(value, env)
    return value


def mask_file(path: str | os.PathLike[str]) -> None:
    """Rewrite a text file with its secrets masked (atomically; a missing file is fine)."""
    from pathlib import Path

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    masked = mask_secrets(text)
    if masked != text:
        tmp = path.with_name(path.name + ".masking")
        tmp.write_text(masked, encoding="utf-8")
        os.replace(tmp, path)


def _env_key() -> tuple[tuple[str, str], ...]:
    return tuple(os.environ.items())


@lru_cache(maxsize=4)
def _env_pattern(items: tuple[tuple[str, str], ...]) -> re.Pattern[str] | None:
    """One regex for the secret values of the environment (whole tokens only)."""
    values: set[str] = set()
    for name, value in items:
        if name in _NOT_SECRET_VARS:
            continue
        value = value.strip()
        if is_secret_name(name) and len(value) >= _MIN_ENV_SECRET:
            values.add(value)
        for m in _URL_WHOLE.finditer(value):
            if len(m["pw"]) >= _MIN_ENV_SECRET:
                values.add(m["pw"])
    if not values:
        return None
    alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    return re.compile(rf"(?<![\w])(?:{alternatives})(?![\w])")
