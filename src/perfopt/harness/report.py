"""REPORT.md from results.jsonl: a pure function of the file (re-rendering is identical).

Order: environment, target verdicts, recommendations (fastest plan per grid against its
default), one section per workload (table, timing warnings, plots, the three
attribution views side by side with a note where they disagree), cells that did not
run, and the views' own overhead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from perfopt.harness import records as records_mod
from perfopt.harness import results as results_mod
from perfopt.harness import stats
from perfopt.harness.targets import TARGETS
from perfopt.harness.verdict_sections import recommendations_section, targets_section
from perfopt.units import fmt_bytes, fmt_duration, fmt_number
from perfopt.urls import mask_url

SPREAD_WARN_PCT = 10.0  # pyperf warns when the std dev exceeds 10% of the mean
TINY_S = 0.001  # pyperf: a timing under 1 ms is too short to trust
MAX_METRICS = 10
_IO_CATS = ("database IO", "file IO", "Optuna storage", "IPC and pickling")
_COMPUTE_CATS = ("numeric compute", "Python compute")
_DATA_STAGE_WORDS = ("load", "data", "read", "io", "storage", "wait", "fetch", "query")


def write_report(
    results_path: Path,
    out_dir: Path | None = None,
    benchmark_json: Sequence[Path] = (),
    asv_results: Path | None = None,
) -> Path:
    """Render REPORT.md (and plots) for a results file; return the report's path.

    `benchmark_json` (pytest-benchmark files) and `asv_results` (an asv results folder)
    add a section on perfopt's own speed beside the matrix verdicts.
    """
    from perfopt.harness.selfspeed import load_asv_results, load_pytest_benchmark, render_selfspeed

    pytest_runs = [load_pytest_benchmark(Path(p)) for p in benchmark_json]
    asv = load_asv_results(Path(asv_results)) if asv_results is not None else None
    records = results_mod.load(Path(results_path))
    out_dir = Path(out_dir) if out_dir is not None else Path(results_path).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    from perfopt.harness.plots import write_plots

    plots = write_plots(records_mod.records(records), out_dir / "plots")
    plot_links = {w: [p.relative_to(out_dir).as_posix() for p in ps] for w, ps in plots.items()}
    text = render(records, Path(results_path).name, plot_links, render_selfspeed(pytest_runs, asv))
    path = out_dir / "REPORT.md"
    path.write_text(text, encoding="utf-8")
    return path


def render(
    records: Sequence[Mapping[str, Any]],
    results_name: str = "results.jsonl",
    plot_links: Mapping[str, Sequence[str]] | None = None,
    selfspeed: Sequence[str] = (),
) -> str:
    """Return the markdown report for result records (already loaded and migrated).

    `selfspeed` is the already-rendered section on perfopt's own speed (selfspeed.py).
    """
    cells = results_mod.cells(records)
    plot_links = plot_links or {}
    out: list[str] = []
    name = next((c.get("matrix") for c in cells if c.get("matrix")), "") or "matrix"
    out.append(f"# perfopt report: {name}\n")
    out.extend(_summary(cells, results_name))
    out.extend(_environment(cells))
    typed = records_mod.records(cells)
    out.extend(targets_section(typed, _targets(records, cells)))
    out.extend(selfspeed)
    out.extend(recommendations_section(typed))
    for workload in _ordered({c["workload"] for c in cells}, cells):
        out.extend(_workload_section(workload, cells, plot_links.get(workload, [])))
    out.extend(_not_run(cells))
    out.extend(_overhead([r for r in records if r.get("kind") == "overhead"]))
    return mask_url("\n".join(out).rstrip() + "\n")


# ---------------------------------------------------------------- sections


def _targets(records: Sequence[Mapping[str, Any]], cells: Sequence[Mapping[str, Any]]) -> Any:
    """The claims to judge: a user matrix's own [[target]]s beside the built-in claims
    about the workloads it ran; the built-in claims alone otherwise."""
    from perfopt.harness.user_targets import from_records

    own = from_records(records)
    ran = {c["workload"] for c in cells}
    from perfopt.harness.registry import is_builtin

    if not own and all(is_builtin(w) and w != "objective" for w in ran):
        return TARGETS
    builtin = tuple(t for t in TARGETS if any(p.workload in ran for p in t.parts))
    return (*own, *builtin)


def _summary(cells: Sequence[Mapping[str, Any]], results_name: str) -> list[str]:
    counts: dict[str, int] = {}
    for c in cells:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    parts = ", ".join(f"{counts[s]} {s}" for s in results_mod.TERMINAL if s in counts)
    starts = sorted(s for c in cells if (s := (c.get("environment") or {}).get("start_utc")))
    when = f"; cells started {starts[0]} to {starts[-1]} (UTC)" if starts else ""
    return [f"Rendered from `{results_name}`: {len(cells)} cells ({parts or 'none'}){when}.\n"]


def _environment(cells: Sequence[Mapping[str, Any]]) -> list[str]:
    envs = [c.get("environment") or {} for c in cells]
    if not envs:
        return []
    env = envs[0]
    py = env.get("python") or {}
    gpu = ", ".join(g.get("name", "?") for g in env.get("gpu") or []) or "none"
    pkgs = ", ".join(f"{k} {v}" for k, v in sorted((env.get("packages") or {}).items()) if v)
    git = env.get("git") or {}
    commit = (git.get("commit") or "unknown")[:12] + (
        " (uncommitted changes)" if git.get("dirty") else ""
    )
    ram = env.get("ram_bytes")
    rows = [
        (
            "CPU",
            f"{env.get('cpu_model', '?')}: {env.get('cores_physical', '?')} physical / "
            f"{env.get('cores_logical', '?')} logical cores, {env.get('cores_available', '?')} available",
        ),
        (
            "CPU features",
            ", ".join(env["cpu_features"]) or "none of avx2/avx512/bf16/amx"
            if isinstance(env.get("cpu_features"), list)
            else "not recorded",
        ),
        ("RAM", _bytes(ram) if ram else "?"),
        ("GPU", gpu),
        (
            "Python",
            f"{py.get('implementation', '?')} {py.get('version', '?')} ({py.get('build', '?')}, "
            f"{'optimized' if py.get('optimized') else 'not an optimized'} build)",
        ),
        ("OS", env.get("os", "?")),
        ("Host", env.get("hostname", "?")),
        ("Commit", commit),
        ("Packages", pkgs or "?"),
    ]
    lines = ["## Environment\n", "| | |", "|---|---|"]
    lines += [f"| {k} | {_cell(v)} |" for k, v in rows]
    distinct = sorted(
        {
            (str(e.get("hostname") or "?"), str((e.get("git") or {}).get("commit") or "?"))
            for e in envs
        }
    )
    if len(distinct) > 1:
        lines.append(
            f"\nThese results come from {len(distinct)} host/commit pairs: "
            + "; ".join(f"{h} @ {c[:12]}" for h, c in distinct)
            + ". Compare cells from the same pair only."
        )
    return [*lines, ""]


def _workload_section(
    workload: str, cells: Sequence[Mapping[str, Any]], plots: Sequence[str]
) -> list[str]:
    members = [c for c in cells if c["workload"] == workload]
    varying = _varying(members)
    metric_keys = _metric_keys(members)
    lines = [f"## Workload: {workload}\n"]
    fixed = _fixed(members, varying)
    if fixed:
        lines.append(f"Same in every cell: {_inline(fixed)}.\n")
    header = [
        "cell",
        *varying,
        "status",
        "median s",
        "n",
        "spread",
        "speed vs default [95%]",
        *metric_keys,
    ]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    warnings: list[str] = []
    for c in members:
        t = c.get("timing") or {}
        metrics = (c.get("measurement") or {}).get("metrics") or {}
        row = [
            f"`{c['cell_id']}`" + (" (default)" if c.get("baseline") else ""),
            *(_val(c["params"].get(k)) for k in varying),
            c["status"],
            _num(t.get("median_s")) if c["status"] == "ok" else "-",
            str(t.get("n", 0)),
            f"{t['spread_pct']:.1f}%" if t.get("n", 0) > 1 else "-",
            _vs_default(c, members),
            *(_num(metrics.get(k)) for k in metric_keys),
        ]
        lines.append("| " + " | ".join(_cell(x) for x in row) + " |")
        warnings.extend(_timing_warnings(c))
    lines.append("")
    watched = sum(
        1 for c in members if any(r.get("pyspy_attached") for r in c.get("runs") or [])
    )
    if watched:
        lines.append(
            f"py-spy watched one timed run of {watched} of these cells (the preset asks "
            "for it, to save an extra run per cell): that run's time is in the figures "
            "above, and what py-spy costs is under 'Overhead of the views'.\n"
        )
    if warnings:
        lines += ["Timing warnings (pyperf-style):", *warnings, ""]
    for link in plots:
        lines.append(f"![{Path(link).stem}]({link})")
    if plots:
        lines.append("")
    lines.extend(_attribution(members, varying))
    return lines


def _attribution(members: Sequence[Mapping[str, Any]], varying: Sequence[str]) -> list[str]:
    rows = [c for c in members if c["status"] == "ok" and c.get("attribution")]
    if not rows:
        return []
    lines = [
        "### Where the time went: three views side by side\n",
        "| cell | stage timers | psutil (whole process tree) | py-spy | verdict |",
        "|---|---|---|---|---|",
    ]
    notes = []
    for c in rows:
        att = c["attribution"] or {}
        stages = _stage_shares(c)
        stage_txt = ", ".join(f"{k} {100 * v:.0f}%" for k, v in stages[:4]) or "-"
        ps = att.get("psutil") or {}
        spy = att.get("pyspy") or {}
        label = f"`{c['cell_id']}` {_params_text(c, varying, bare=True)}".strip()
        lines.append(
            f"| {_cell(label)} | {_cell(stage_txt)} | {_cell(_psutil_text(ps))} | "
            f"{_cell(_pyspy_text(spy))} | {_cell(_verdict_text(c.get('verdict')))} |"
        )
        note = _disagreement(stages, ps, spy)
        slow = _pyspy_slowdown(c, spy)
        if slow:
            note = (note + "; " if note else "") + slow
        over = att.get("oversubscription") or {}
        if over.get("oversubscribed"):
            note = (note + "; " if note else "") + f"oversubscribed: {over.get('reason', '')}"
        if note:
            notes.append(f"- `{c['cell_id']}`: {_inline(note)}")
    lines.append("")
    if notes:
        lines += ["Where the views disagree or warn:", *notes, ""]
    return lines


def _not_run(cells: Sequence[Mapping[str, Any]]) -> list[str]:
    bad = [c for c in cells if c["status"] != "ok"]
    if not bad:
        return []
    lines = [
        "## Cells that failed, timed out or were skipped\n",
        "| cell | workload | params | status | reason |",
        "|---|---|---|---|---|",
    ]
    for c in bad:
        reason = (c.get("error") or "").strip().splitlines()
        lines.append(
            f"| `{c['cell_id']}` | {c['workload']} | {_cell(c.get('label', ''))} | {c['status']} | "
            f"{_cell(reason[0] if reason else '-')} |"
        )
    return [*lines, ""]


# The targets of the issue: what each view may cost the command it watches.
_OVERHEAD_TARGETS = {"psutil": 0.02, "pyspy": 0.10}


def _overhead(lines_in: Sequence[Mapping[str, Any]]) -> list[str]:
    if not lines_in:
        return []
    o = lines_in[-1].get("overhead") or {}
    lines = ["## Overhead of the views\n"]
    if not o.get("available", True) or "psutil_overhead" not in o:
        lines.append(f"Not measured: {o.get('reason', 'unknown')}.")
        return [*lines, ""]
    med = o.get("median_s") or {}
    names = {
        "psutil": f"psutil sampler ({o.get('hz', '?')} Hz)",
        "pyspy": f"py-spy ({o.get('rate', '?')} Hz)",
    }
    lines += [
        f"A CPU-bound command of fixed work, {o.get('repeats', '?')} interleaved repeats per "
        "variant. The CPU cost (CPU the watcher used over the command's CPU) is the stable "
        "measure; the wall-time change is what the command felt, and is only meaningful "
        "when it exceeds the spread of the bare runs.\n",
        "| view | CPU cost | target | verdict | wall median | wall change |",
        "|---|---|---|---|---|---|",
        f"| bare | - | - | - | {_s(med.get('bare'))} | spread {_pct(_bare_spread(o))} |",
    ]
    for view, target in _OVERHEAD_TARGETS.items():
        cost = o.get(f"{view}_cpu_cost")
        verdict = "-" if cost is None else ("PASS" if cost <= target else "FAIL")
        lines.append(
            f"| {names[view]} | {_pct(cost)} | "
            f"<= {100 * target:.0f}% | {verdict} | {_s(med.get(view))} | "
            f"{_wall_change(o, view)} |"
        )
    return [*lines, ""]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _bare_spread(o: Mapping[str, Any]) -> float | None:
    runs = (o.get("seconds") or {}).get("bare") or []
    return max(runs) / min(runs) - 1 if len(runs) > 1 and min(runs) > 0 else None


def _wall_change(o: Mapping[str, Any], view: str) -> str:
    change = float(o[f"{view}_overhead"])
    noise = _bare_spread(o)
    text = f"{100 * change:+.1f}%"
    if noise is not None and abs(change) <= noise:
        return f"{text} (within the bare runs' spread: noise)"
    return text


# ---------------------------------------------------------------- helpers


def _ordered(names: Iterable[str], cells: Sequence[Mapping[str, Any]]) -> list[str]:
    order = {}
    for c in cells:
        order.setdefault(c["workload"], len(order))
    return sorted(names, key=lambda n: order[n])


def _scalar_params(c: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in (c.get("params") or {}).items() if not isinstance(v, list | dict)}


def _varying(members: Sequence[Mapping[str, Any]]) -> list[str]:
    keys = sorted({k for c in members for k in _scalar_params(c)})
    return [k for k in keys if len({repr(_scalar_params(c).get(k)) for c in members}) > 1]


def _fixed(members: Sequence[Mapping[str, Any]], varying: Sequence[str]) -> str:
    first = _scalar_params(members[0]) if members else {}
    return " ".join(f"{k}={_val(v)}" for k, v in sorted(first.items()) if k not in varying)


def _metric_keys(members: Sequence[Mapping[str, Any]]) -> list[str]:
    """Metrics worth a column: those targets judge, throughputs, times, then the rest."""
    keys = {k for c in members for k in ((c.get("measurement") or {}).get("metrics") or {})}
    judged = {p.metric for t in TARGETS for p in t.parts}

    def rank(key: str) -> tuple[int, str]:
        if key in judged:
            return 0, key
        if "_per_s" in key:
            return 1, key
        if key.endswith("_s") or "_s_" in key or "ratio" in key:
            return 2, key
        return 3, key

    return sorted(keys, key=rank)[:MAX_METRICS]


def _params_text(c: Mapping[str, Any], varying: Sequence[str], bare: bool = False) -> str:
    text = " ".join(f"{k}={_val(c['params'].get(k))}" for k in varying)
    return text if bare or not text else f"`{text}`"


def _median(c: Mapping[str, Any]) -> float | None:
    return (c.get("timing") or {}).get("median_s")


def _vs_default(c: Mapping[str, Any], members: Sequence[Mapping[str, Any]]) -> str:
    """Default time / this cell's time with its interval, within the cell's grid."""
    base = next((b for b in members if b.get("baseline") and b.get("grid") == c.get("grid")), None)
    if base is None or base is c or c["status"] != "ok" or base["status"] != "ok":
        return "-"
    mine = records_mod.CellRecord.from_line(c).values("seconds")
    theirs = records_mod.CellRecord.from_line(base).values("seconds")
    if not mine or not theirs:
        return "-"
    return stats.ratio(mine, theirs).text()


def _timing_warnings(c: Mapping[str, Any]) -> list[str]:
    t = c.get("timing") or {}
    out = []
    if c["status"] == "ok" and t.get("n", 0) > 1 and t.get("spread_pct", 0) > SPREAD_WARN_PCT:
        out.append(
            f"- `{c['cell_id']}`: the standard deviation is {t['spread_pct']:.0f}% of the mean "
            f"over {t['n']} runs: the result may be unstable (a noisy machine?)"
        )
    busy = records_mod.CellRecord.from_line(c).other_busy_cores if c["status"] == "ok" else None
    if busy is not None and busy >= 0.5:
        cores = (c.get("environment") or {}).get("cores_available", "?")
        out.append(
            f"- `{c['cell_id']}`: other processes kept {busy:.1f} of {cores} cores busy during "
            "its runs (other jobs on the machine): its times carry their noise, and a "
            "parallel ratio against it is no evidence"
        )
    if c["status"] == "ok" and t.get("median_s") is not None and t["median_s"] < TINY_S:
        out.append(
            f"- `{c['cell_id']}`: {_s(t['median_s'])} is too short to time reliably (< 1 ms)"
        )
    return out


def _stage_shares(c: Mapping[str, Any]) -> list[tuple[str, float]]:
    from perfopt.harness.plots import stage_shares

    shares = stage_shares(records_mod.CellRecord.from_line(c))
    return sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))

def _psutil_text(ps: Mapping[str, Any]) -> str:
    if not ps or ps.get("available") is False:
        return f"off: {ps.get('reason', 'not recorded')}" if ps else "-"
    cores = ps.get("cores_available", "?")
    parts = [
        f"CPU {ps.get('cpu_utilization_cores', 0):.2f} cores ({ps.get('utilization_pct_of_available', 0):.0f}% of {cores})",
        f"user {ps.get('cpu_user_s', 0):.2f} s sys {ps.get('cpu_system_s', 0):.2f} s",
        f"peak RSS {_bytes(ps.get('peak_rss_bytes', 0))}",
        f"IO r {_bytes(ps.get('read_bytes', 0))} w {_bytes(ps.get('write_bytes', 0))}",
        f"threads {ps.get('max_threads', '?')}",
        f"ctx vol/invol {ps.get('ctx_switches_voluntary', 0)}/{ps.get('ctx_switches_involuntary', 0)}",
    ]
    if ps.get("iowait_s"):
        parts.append(f"iowait {ps['iowait_s']:.2f} s")
    states = ps.get("thread_states") or {}
    if states.get("available"):
        parts.append(f"threads running or runnable {states.get('runnable_mean', 0):.1f} on average")
    return "; ".join(parts)


def _verdict_text(value: Any) -> str:
    """A verdict value as "**kind**: text"; an older result's string verdict as it is."""
    if isinstance(value, Mapping):
        return f"**{value.get('kind', '?')}**: {value.get('text', '')}"
    return str(value) if value else "-"


def _pyspy_text(spy: Mapping[str, Any]) -> str:
    if not spy or not spy.get("available", True) or not spy.get("samples"):
        return f"off: {spy.get('reason') or 'no samples'}" if spy else "-"
    cats = sorted((spy.get("categories") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    top = ", ".join(f"{k} {100 * v:.0f}%" for k, v in cats[:3] if v > 0)
    funcs = [f for f in spy.get("top_functions") or [] if f.get("file")]
    lead = f"; top: {funcs[0].get('function')}" if funcs else ""
    run = spy.get("run_seconds")
    where = f"; separate run {_s(run)}" if isinstance(run, int | float) else ""
    if spy.get("attached_to_timed_run"):
        where = "; attached to a timed run"
    if "native" in spy:  # results from before native frames have no such key
        where += "; native frames" if spy["native"] else "; no native frames"
    cost = spy.get("cost_share_of_target_cpu")
    if isinstance(cost, int | float):
        where += f"; py-spy CPU {100 * cost:.0f}% of the run's"
    return f"{top} ({spy['samples']} samples{where}){lead}"


def _pyspy_slowdown(c: Mapping[str, Any], spy: Mapping[str, Any]) -> str:
    run, timed = spy.get("run_seconds"), _median(c)
    if spy.get("attached_to_timed_run"):
        return ""
    if not isinstance(run, int | float) or not timed or run < 1.5 * timed:
        return ""
    return (
        f"py-spy slowed its run {run / timed:.1f}x ({_s(run)} vs {_s(timed)} timed): its shares "
        "over-weight what the profiler slowed (often process start-up)"
    )


def _disagreement(
    stages: Sequence[tuple[str, float]], ps: Mapping[str, Any], spy: Mapping[str, Any]
) -> str:
    cats = (spy.get("categories") or {}) if spy.get("samples") else {}
    io = sum(cats.get(k, 0.0) for k in _IO_CATS)
    compute = sum(cats.get(k, 0.0) for k in _COMPUTE_CATS)
    waiting = cats.get("waiting or idle", 0.0)
    data = sum(v for k, v in stages if any(w in k.lower() for w in _DATA_STAGE_WORDS))
    notes = []
    if cats and stages:
        if data >= 0.5 and compute >= 0.5:
            notes.append(
                f"stage timers put {100 * data:.0f}% in data stages but py-spy sees "
                f"{100 * compute:.0f}% compute: the 'data' stage is converting rows in Python, "
                "not waiting on IO"
            )
        if data < 0.5 and stages and io >= 0.5:
            notes.append(
                f"stage timers put {100 * (1 - data):.0f}% in compute stages but py-spy sees "
                f"{100 * io:.0f}% IO/storage/IPC"
            )
    util = ps.get("cpu_utilization_cores") if ps.get("available", True) else None
    cores = ps.get("cores_available") or 0
    if cats and util is not None:
        if util < 0.3 and compute >= 0.6:
            notes.append(
                f"py-spy sees {100 * compute:.0f}% compute but the tree used only {util:.2f} "
                "cores: samples fall on threads that hold no core (GIL or sleeps)"
            )
        if cores and util >= 0.8 * cores and waiting >= 0.6:
            notes.append(
                f"the CPU is busy ({util:.2f} cores) while py-spy sees {100 * waiting:.0f}% "
                "waiting: the work runs in native threads or non-Python processes"
            )
    return "; ".join(notes)


def _ratio(x: float) -> str:
    return f"{x:,.0f}x" if x >= 100 else f"{x:.2f}x"


def _num(x: Any) -> str:
    # one formatter for every table: a NaN or missing metric reads "-", never "nan"
    return fmt_number(x)


def _val(x: Any) -> str:
    return "-" if x is None else str(x).lower() if isinstance(x, bool) else str(x)


def _s(x: Any) -> str:
    return "?" if x is None else fmt_duration(x)


def _bytes(n: Any) -> str:
    return fmt_bytes(n or 0)


def _cell(x: Any) -> str:
    return _inline(str(x)).replace("|", "\\|")


def _inline(text: str) -> str:
    return " ".join(str(text).split())
