"""Timeframe-grid helpers: parse `LTF@HTF` lists, render name templates, name outputs.

Placeholders of `--study-template` / `--run-tag-template` (str.format syntax, so
`{index:02d}` works):
- {symbol}: the symbol as given ("BINANCE:ENAUSDT"); {symbol_slug}: lower case, every
  run of characters other than [a-z0-9] replaced by one "_", no leading/trailing "_"
  ("binance_enausdt").
- {ltf}, {htf}: the timeframe as the user wrote it in the grid ("60");
  {ltf_slug}, {htf_slug}: its canonical name ("1h").
- {index}: the pair's 1-based position in the grid; {total}: the number of pairs.
- {suffix}: free text appended by the caller (empty by default).
- {hash}: 8 hex digits of a SHA-256 over the settings that make trial values
  comparable (symbol, pair, signal, feature switches, costs, objective; not the data
  folder's path), so a change of settings gets a new study and the same settings on
  another host find the same one (see `settings_hash`).
File names (SQLite fallback, report folders) use the symbol with characters outside
[A-Za-z0-9._-] replaced by "_" (case kept: BTCUSDT_1m_1h.db) and timeframe slugs.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from perfopt.errors import UserError
from perfopt.intraday.timeframes import ACCEPTED_TIMEFRAMES, Timeframe, parse_timeframe
from perfopt.run_folders import run_stamp

PLACEHOLDERS: tuple[str, ...] = (
    "symbol",
    "symbol_slug",
    "ltf",
    "ltf_slug",
    "htf",
    "htf_slug",
    "index",
    "total",
    "suffix",
    "hash",
)
DEFAULT_STUDY_TEMPLATE = "{symbol}_{ltf_slug}_{htf_slug}{suffix}"
DEFAULT_RUN_TAG_TEMPLATE = "{symbol}_{ltf_slug}_{htf_slug}"
GRID_FORM = "LTF@HTF"
_ENTRY_SEPARATORS = re.compile(r"[,;]")


def parse_timeframe_grid(text: str) -> list[tuple[Timeframe, Timeframe]]:
    """Parse "1m@15m,1m@1h;5m@1h" into (LTF, HTF) pairs, in order, duplicates refused."""
    entries = [e.strip() for e in _ENTRY_SEPARATORS.split(str(text))]
    if not any(entries):
        raise UserError(
            f"--timeframe-grid is empty: give pairs of the form {GRID_FORM}, e.g. 1m@15m,5m@1h"
        )
    pairs: list[tuple[Timeframe, Timeframe]] = []
    for entry in entries:
        if not entry:
            continue  # tolerate a trailing comma
        parts = entry.split("@")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise UserError(
                f"malformed --timeframe-grid entry {entry!r}: use the form {GRID_FORM} "
                f"(e.g. 1m@15m) with timeframes from {', '.join(ACCEPTED_TIMEFRAMES)}"
            )
        try:
            ltf, htf = parse_timeframe(parts[0]), parse_timeframe(parts[1])
        except UserError as exc:
            raise UserError(f"--timeframe-grid entry {entry!r}: {exc}") from None
        if htf <= ltf:
            raise UserError(
                f"--timeframe-grid entry {entry!r}: the HTF ({htf.slug}) must be longer than the LTF ({ltf.slug})"
            )
        if any(p == (ltf, htf) for p in pairs):
            raise UserError(
                f"--timeframe-grid entry {entry!r} repeats the pair {ltf.slug}@{htf.slug}"
            )
        pairs.append((ltf, htf))
    return pairs


def symbol_slug(symbol: str) -> str:
    """Lower-case slug of a symbol: "BINANCE:ENAUSDT" -> "binance_enausdt"."""
    return re.sub(r"[^a-z0-9]+", "_", symbol.lower()).strip("_")


def safe_symbol(symbol: str) -> str:
    """Symbol with characters unsafe in a file name replaced by "_" (case kept)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", symbol)


def grid_context(
    symbol: str,
    ltf: Timeframe | str,
    htf: Timeframe | str,
    index: int,
    total: int,
    suffix: str = "",
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Values of every placeholder for one grid pair (index is 1-based).

    `settings` feeds {hash} (see settings_hash); without it {hash} covers the symbol
    and the pair only.
    """
    lt = ltf if isinstance(ltf, Timeframe) else parse_timeframe(ltf)
    ht = htf if isinstance(htf, Timeframe) else parse_timeframe(htf)
    return {
        "symbol": symbol,
        "symbol_slug": symbol_slug(symbol),
        "ltf": lt.text or lt.slug,
        "ltf_slug": lt.slug,
        "htf": ht.text or ht.slug,
        "htf_slug": ht.slug,
        "index": int(index),
        "total": int(total),
        "suffix": suffix,
        "hash": settings_hash(
            settings if settings is not None else {"symbol": symbol, "ltf": lt.slug, "htf": ht.slug}
        ),
    }


def settings_hash(settings: Mapping[str, Any]) -> str:
    """8 hex digits of SHA-256 over the settings as sorted JSON (a "data_dir" key is left out)."""
    kept = {k: v for k, v in settings.items() if k != "data_dir"}
    text = json.dumps(kept, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def template_fields(template: str) -> list[str]:
    """Placeholder names used by a template; UserError on a malformed one."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise UserError(f"malformed template {template!r}: {exc}") from None
    names = []
    for _, field, _, _ in parsed:
        if field is None:
            continue
        # No attribute or index access ({symbol.lower}): a name must be a placeholder.
        root = field
        if root not in PLACEHOLDERS:
            shown = "{" + field + "}"
            raise UserError(
                f"unknown placeholder {shown} in template {template!r}: use "
                + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            )
        names.append(root)
    return names


def render_template(template: str, **values: Any) -> str:
    """Fill a study/run-tag template; an unknown placeholder is a UserError naming it."""
    template_fields(template)
    try:
        rendered = template.format(**values)
    except KeyError as exc:
        raise UserError(f"template {template!r} needs a value for {{{exc.args[0]}}}") from None
    except (ValueError, IndexError, AttributeError, TypeError) as exc:
        raise UserError(f"cannot render template {template!r}: {exc}") from None
    if not rendered.strip():
        raise UserError(f"template {template!r} renders an empty name")
    return rendered


def sqlite_study_path(
    symbol: str, ltf: Timeframe, htf: Timeframe, root: str | Path = "studies"
) -> Path:
    """SQLite fallback storage of one pair: studies/<symbol>_<ltf>_<htf>.db."""
    return Path(root) / f"{safe_symbol(symbol)}_{ltf.slug}_{htf.slug}.db"


def run_timestamp(now: datetime | None = None) -> str:
    """UTC timestamp used in report folder names, e.g. 20240102T030405Z."""
    return run_stamp(now)


def report_dir(
    symbol: str,
    ltf: Timeframe,
    htf: Timeframe,
    timestamp: str | None = None,
    root: str | Path = "reports",
) -> Path:
    """Output folder of one pair: reports/<timestamp>_<symbol>_<ltf>_<htf>/."""
    stamp = timestamp if timestamp is not None else run_timestamp()
    return Path(root) / f"{stamp}_{safe_symbol(symbol)}_{ltf.slug}_{htf.slug}"


def pair_folder(root: str | Path, stamp: str, run_tag: str) -> Path:
    """A free folder reports/<timestamp>_<run tag>; a second run in the same second gets -2, -3."""
    folder = Path(root) / f"{stamp}_{safe_symbol(run_tag)}"
    n = 2
    while folder.exists():
        folder = Path(root) / f"{stamp}_{safe_symbol(run_tag)}-{n}"
        n += 1
    return folder
