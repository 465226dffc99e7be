"""The project stands on its own: the files its docs and help texts name exist, and
nothing points outside the repository.

What counts as a repository path (in README.md, docs/*.md and every `perfopt ... --help`):

- a token with a `/` whose first part is an entry at the repository's top level
  (`docs/x.md`, `scripts/y.py`, `benchmarks/baseline/...`, `examples/...`, `tests/...`,
  `reports/quick/REPORT.md`): it must exist from the repository root;
- a token ending in `.py` whose first part is a subpackage of perfopt
  (`harness/registry.py`, `optimize/user_objective.py`): it must exist under src/perfopt.

Not paths: URLs, absolute or home paths, and templates with a placeholder character
(`reports/run{#}`, `kernels-<vendor>.json`, `kernels-$KEY.json`, `scripts/*_figures.py`)
or spelled `path/to/...`. Output paths a user chooses (`--json data/seed/run.json`)
start with neither kind of first part and are left alone.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PERFOPT = ROOT / "src" / "perfopt"
_TOKEN = re.compile(r"[A-Za-z0-9_.{}<>$*#\[\]~/-]+")
_PLACEHOLDER_CHARS = set("{}<>$*#[]~")
# Text that points outside the repository: the shared folder next to it, files that
# live elsewhere, and the seed material's file names (NNN_<16 hex>.txt).
_OUTSIDE = re.compile(r"\.\./shared|ARCHITECTURE\.md|measured-here|specs/|\b\d{3}_[0-9a-f]{16}\b")


def _top_level() -> set[str]:
    return {p.name for p in ROOT.iterdir() if not p.name.startswith(".")}


def _subpackages() -> set[str]:
    return {p.name for p in PERFOPT.iterdir() if (p / "__init__.py").exists()}


def mentioned_paths(text: str) -> set[str]:
    """The repository-relative paths `text` mentions (see the module docstring)."""
    top, subpackages = _top_level(), _subpackages()
    found = set()
    for match in _TOKEN.finditer(text):
        token = match.group(0).rstrip(".-")
        before = text[match.start() - 1] if match.start() else " "
        if "/" not in token or before in ":/." or token.startswith(("/", "path/to/")):
            continue  # not a path, part of a URL, absolute, or a placeholder path
        if _PLACEHOLDER_CHARS & set(token):
            continue
        first = token.split("/", 1)[0]
        if first in top or (first in subpackages and token.endswith(".py")):
            found.add(token.rstrip("/"))
    return found


def _exists(path: str) -> bool:
    return (ROOT / path).exists() or (path.endswith(".py") and (PERFOPT / path).exists())


def _docs() -> dict[str, str]:
    texts = {"README.md": (ROOT / "README.md").read_text(encoding="utf-8")}
    for path in sorted((ROOT / "docs").glob("*.md")):
        texts[f"docs/{path.name}"] = path.read_text(encoding="utf-8")
    return texts


def _help_texts() -> dict[str, str]:
    """`perfopt --help` and every subcommand's, nested ones included."""
    from perfopt.cli import build_parser

    texts: dict[str, str] = {}

    def walk(parser: argparse.ArgumentParser, name: str) -> None:
        texts[name] = parser.format_help()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, subparser in action.choices.items():
                    walk(subparser, f"{name} {sub}")

    walk(build_parser(), "perfopt")
    return texts


def test_the_path_rule():
    text = (
        "see `docs/claims.md`, scripts/backtest_figures.py and `harness/runner.py`; "
        "https://example.com/docs/x.md, reports/run{#}, benchmarks/kernels-<v>.json, "
        "path/to/file.py, --json data/seed/run.json, /tmp/docs/x.md."
    )
    assert mentioned_paths(text) == {
        "docs/claims.md",
        "scripts/backtest_figures.py",
        "harness/runner.py",
    }


@pytest.mark.parametrize("source", ["docs", "help"])
def test_every_mentioned_path_exists(source, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # argparse wraps at hyphens: docs/many-\nruns.md
    texts = _docs() if source == "docs" else _help_texts()
    missing = [
        f"{name}: {path}"
        for name, text in texts.items()
        for path in sorted(mentioned_paths(text))
        if not _exists(path)
    ]
    assert not missing, "paths named but not in the repository:\n" + "\n".join(missing)


def test_nothing_points_outside_the_repository():
    files = [ROOT / "README.md"]
    for folder in ("src", "docs", "scripts", "benchmarks"):
        files += [
            p for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts
        ]
    hits = []
    for path in files:
        data = path.read_bytes()
        if b"\0" in data:
            continue  # binary
        for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if _OUTSIDE.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:120]}")
    assert not hits, "\n".join(hits)
