"""scripts/torch_figures.py: a negative cut reads as "the chunk loader was slower", with spreads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "torch_figures.py"


def _script():
    spec = importlib.util.spec_from_file_location("torch_figures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_slower_chunk_loader_is_said_in_words_with_its_spread() -> None:
    describe = _script().describe_cut
    text = describe([1.0, 1.1], [1.4, 1.5])
    assert text.startswith("the chunk loader was slower: its epoch took 38.1% longer")
    assert "-" not in text.split("longer")[0]  # no "cuts ... by -39%"
    assert "1.000-1.100 s" in text and "1.400-1.500 s" in text and "overlap" not in text
    assert describe([1.0, 1.2], [0.5, 0.6]).startswith("chunk loader cuts the epoch by 50.0%")
    assert "within the spread" in describe([1.0, 1.3], [0.9, 1.1])
