"""`--config FILE`: a TOML table per command; flags on the command line win; clear errors."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from perfopt.cli import checks, config_file
from perfopt.errors import UserError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="demo")
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--n-trials", type=checks.positive_int, default=10)
    p.add_argument("--loader", choices=["chunk", "per-sample"], default="chunk")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument("--dry", action="store_true")
    p.add_argument("--enable", action="append", default=None)
    config_file.add_config_flag(p, "demo")
    return p


def _apply(tmp_path: Path, text: str, argv: list[str]) -> argparse.Namespace:
    path = tmp_path / "c.toml"
    path.write_text(text)
    argv = [*argv, "--config", str(path)]
    args = _parser().parse_args(argv)
    config_file.apply_config_file(args, argv)
    return args


def test_file_values_fill_the_flags_and_flags_override(tmp_path: Path) -> None:
    text = (
        '[demo]\ndata = "d/x"\nn-trials = 200\nloader = "per-sample"\namp = true\n'
        'dry = true\nenable = ["useHTF", "useStop"]\n'
    )
    args = _apply(tmp_path, text, [])
    assert args.data == Path("d/x") and args.n_trials == 200 and args.loader == "per-sample"
    assert args.amp is True and args.dry is True and args.enable == ["useHTF", "useStop"]
    # a flag given on the command line wins, even when it equals the flag's default
    args = _apply(tmp_path, text, ["--n-trials", "10", "--no-amp"])
    assert args.n_trials == 10 and args.amp is False and args.loader == "per-sample"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[demo]\nn_trails = 3\n", "unknown key 'n_trails'"),
        ("[demo]\nn-trials = 0\n", "n-trials = 0"),
        ("[demo]\nloader = 'fast'\n", "must be one of chunk, per-sample"),
        ("[demo]\namp = 'yes'\n", "must be true or false"),
        ("[other]\nx = 1\n", "no [demo] table (tables found: [other])"),
        ("[demo\n", "not valid TOML"),
    ],
)
def test_bad_files_name_the_file_and_the_key(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(UserError) as err:
        _apply(tmp_path, text, [])
    assert words in str(err.value) and "c.toml" in str(err.value)


def test_a_missing_file_is_a_user_error(tmp_path: Path) -> None:
    argv = ["--config", str(tmp_path / "none.toml")]
    args = _parser().parse_args(argv)
    with pytest.raises(UserError, match="no such file"):
        config_file.apply_config_file(args, argv)
