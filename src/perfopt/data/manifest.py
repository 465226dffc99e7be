"""manifest.json of a data folder: which generation wrote its stores, and their hashes.

Writing three stores (SQLite, Parquet, HDF5) cannot be one atomic step, so an
interrupted `perfopt data generate` or `import-csv` into an existing folder could leave
stores of two different panels side by side. The manifest makes that visible:

1. before the first store is replaced, manifest.json says `"state": "writing"`;
2. each store is written under a temporary name and renamed into place;
3. then manifest.json is replaced (atomically) by `"state": "complete"` with every
   store's size and SHA-256.

A folder whose manifest says "writing" was interrupted: opening a store refuses it and
names the fix (write it again). Opening a store also compares the file's size with the
manifest (a cheap check on every open); `perfopt data info` recomputes the hashes.
Folders written before manifests existed have none and are read as they are.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from perfopt.errors import UserError

NAME = "manifest.json"
FORMAT = 1


def _write(folder: Path, data: dict[str, Any]) -> None:
    path = folder / NAME
    tmp = folder / f".{NAME}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def begin(folder: Path, what: str) -> str:
    """Mark the folder as being written (before any store changes); return the generation."""
    generation = uuid.uuid4().hex
    _write(folder, {"format": FORMAT, "state": "writing", "generation": generation, "by": what})
    return generation


def sha256(path: Path) -> str:
    """The file's SHA-256, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def finish(
    folder: Path, generation: str, what: str, files: Mapping[str, Path], panel: dict[str, Any]
) -> None:
    """Record the complete stores: size and SHA-256 of each, and what the panel holds."""
    _write(
        folder,
        {
            "format": FORMAT,
            "state": "complete",
            "generation": generation,
            "by": what,
            "panel": panel,
            "files": {
                source: {"name": p.name, "bytes": p.stat().st_size, "sha256": sha256(p)}
                for source, p in files.items()
            },
        },
    )


def read(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest, None when it has none; UserError when it is unreadable."""
    path = folder / NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(
            f"{path} is not readable JSON ({exc}); write the data folder again"
        ) from None
    if not isinstance(data, dict) or data.get("state") not in ("writing", "complete"):
        raise UserError(f"{path} is not a perfopt data manifest; write the data folder again")
    return data


def check_store(folder: Path, source: str, path: Path) -> None:
    """Refuse a store of an interrupted write, or one whose size changed since it was written."""
    data = read(folder)
    if data is None:
        return
    if data["state"] != "complete":
        raise UserError(
            f"{folder}: an earlier `perfopt data {data.get('by', 'generate')}` into this folder "
            "was interrupted, so its stores may hold different panels; run it again"
        )
    entry = data.get("files", {}).get(source)
    if entry is None:
        return
    size = path.stat().st_size
    if size != entry.get("bytes"):
        raise UserError(
            f"{path} has {size} bytes, not the {entry.get('bytes')} its manifest records: it "
            f"changed after `perfopt data {data.get('by', 'generate')}`; write the folder again"
        )


def verify(folder: Path) -> dict[str, Any]:
    """Recompute every store's hash: {"state", "generation", "mismatched": [names]}."""
    data = read(folder)
    if data is None:
        return {"state": "none", "generation": None, "mismatched": []}
    mismatched = []
    for entry in data.get("files", {}).values():
        path = folder / entry["name"]
        if not path.is_file() or sha256(path) != entry.get("sha256"):
            mismatched.append(entry["name"])
    return {"state": data["state"], "generation": data["generation"], "mismatched": mismatched}
