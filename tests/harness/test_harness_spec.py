"""Matrix specs and cells: presets, validation errors, rules, deterministic ids."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from perfopt.errors import UserError
from perfopt.harness import cell_id, expand, load_spec, parse_spec, preset_names

TOY = """
name = "t"
[[grid]]
name = "g"
workload = "toy"
fixed = {{ size = 1 }}
axes = {{ mode = {modes}, workers = [1, 2] }}
{extra}
"""


def spec_text(modes: str = '["ok", "invalid"]', extra: str = "") -> str:
    return TOY.format(modes=modes, extra=extra)


def test_presets_ship_and_expand() -> None:
    assert {"quick", "full", "device"} <= set(preset_names())
    for name in ("quick", "full", "device"):
        spec = load_spec(name)
        cells = expand(spec)
        assert cells, name
        assert len({c.cell_id for c in cells}) == len(cells)
        # every cell either runs or says why not
        assert all(c.skip is None or c.skip.strip() for c in cells)
        assert {c.workload for c in cells} == {"backtest", "optimize", "train", "selfplay"}
        # every timed cell runs at least 3 times: one run decides nothing
        assert min(c.repeats for c in cells) >= 3


def test_the_device_preset_covers_the_claims_at_their_worker_counts() -> None:
    cells = expand(load_spec("device"))
    opt = {(c.params["storage"], c.params["n_jobs"]) for c in cells if c.workload == "optimize"}
    assert opt == {(s, n) for s in ("sqlite", "journal") for n in (1, 2, 4, 8)}
    workers = {c.params.get("workers", 1) for c in cells if c.workload == "selfplay"}
    assert {1, 2, 4, 6, 8} <= workers
    train = [c for c in cells if c.workload == "train"]
    assert {(c.params["loader"], c.params["amp"]) for c in train} == {
        (loader, amp) for loader in ("per-sample", "chunk") for amp in (False, True)
    }
    assert all(c.params["device"] == "cuda" for c in train)
    sharded = {c.params["workers"] for c in cells if c.grid == "backtest-workers"}
    assert sharded == {1, 2, 4, 8}


def test_unknown_preset_lists_valid_ones() -> None:
    with pytest.raises(UserError, match=r"unknown preset 'nope'; valid presets: device, full, quick"):
        load_spec("nope")


def test_missing_file() -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_spec("/no/such/matrix.toml")


def test_malformed_toml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\n[[grid]]\nworkload = "toy"\naxes = { mode = ["ok", }\n')
    with pytest.raises(UserError) as err:
        load_spec(str(path))
    assert str(path) in str(err.value)
    assert "line 4" in str(err.value)


def test_unknown_axis_lists_valid_axes(toy: str) -> None:
    text = spec_text(extra='exclude = [{ colour = "red" }]')
    with pytest.raises(UserError, match=r"unknown axis 'colour'; valid axes: counter, mode"):
        expand(parse_spec(text, "m.toml"))


def test_unknown_value_lists_valid_values(toy: str) -> None:
    with pytest.raises(
        UserError, match=r"unknown value 'fast' for axis 'mode'; valid values: ok, fail"
    ):
        expand(parse_spec(spec_text('["ok", "fast"]'), "m.toml"))
    # numeric axes take any number, but not a string
    expand(parse_spec(spec_text(extra="").replace("size = 1", "size = 7"), "m.toml"))
    with pytest.raises(UserError, match="axis 'size'"):
        expand(parse_spec(spec_text().replace("size = 1", 'size = "big"'), "m.toml"))


def test_unknown_workload_and_keys(toy: str) -> None:
    with pytest.raises(UserError, match=r"unknown workload 'nosuch'; valid workloads: .*toy"):
        expand(parse_spec('[[grid]]\nworkload = "nosuch"\n', "m.toml"))
    with pytest.raises(UserError, match=r"m.toml: unknown key\(s\) axis at grid #1"):
        parse_spec('[[grid]]\nworkload = "toy"\naxis = {}\n', "m.toml")


def test_skip_reasons_and_rules(toy: str) -> None:
    extra = 'exclude = [{ mode = "ok", workers = 2 }]\ninclude = [{ mode = "ok", size = 3 }]'
    cells = expand(parse_spec(spec_text(extra=extra), "m.toml"))
    labels = [c.label for c in cells]
    assert labels == [
        "mode=ok size=1 workers=1",
        "mode=invalid size=1 workers=1",
        "mode=invalid size=1 workers=2",
        "mode=ok size=3",
    ]
    assert cells[1].skip == "mode=invalid cannot run (test rule)"
    assert cells[0].skip is None
    # defaults fill what the cell does not name
    assert cells[3].resolved["workers"] == 1
    # the cell matching the workload's defaults is the grid's baseline
    assert [c.baseline for c in cells] == [True, False, False, False]
    # more than one worker: the harness caps BLAS threads
    assert cells[2].uses_workers and not cells[0].uses_workers


def test_missing_workload_module_skips_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFOPT_EXTRA_WORKLOADS", "ghost=perfopt_no_such_module:Ghost")
    cells = expand(parse_spec('[[grid]]\nworkload = "ghost"\naxes = { x = [1, 2] }\n', "m.toml"))
    assert len(cells) == 2
    assert all("perfopt_no_such_module is not importable" in (c.skip or "") for c in cells)


def test_cell_ids_are_deterministic(toy: str) -> None:
    a = cell_id("toy", {"mode": "ok", "size": 2})
    assert a == cell_id("toy", {"size": 2, "mode": "ok"})
    assert a != cell_id("toy", {"mode": "ok", "size": 3})
    assert a.startswith("toy-")
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "from perfopt.harness import cell_id; print(cell_id('toy', {'size': 2, 'mode': 'ok'}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert other == a  # stable across processes (no hash randomization)
    ids1 = [c.cell_id for c in expand(parse_spec(spec_text(), "m.toml"))]
    ids2 = [c.cell_id for c in expand(parse_spec(spec_text(), "m.toml"))]
    assert ids1 == ids2


def test_overrides_validate() -> None:
    spec = load_spec("quick")
    assert spec.with_overrides(repeats=3).grids[0].repeats == 3
    with pytest.raises(UserError, match="--repeats"):
        spec.with_overrides(repeats=0)
    with pytest.raises(UserError, match="--cell-timeout"):
        spec.with_overrides(cell_timeout=-1)
