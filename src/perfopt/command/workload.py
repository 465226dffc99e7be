"""Run any command as a workload (what `perfopt sweep` measures).

Params: `argv` (a list of strings with `{axis}` placeholders), optional `env` (a table of
extra environment variables, placeholders allowed) and one value per axis. Only
`{name}` where `name` is a param is replaced, so literal braces in code such as
`python -c "d = {}"` survive. The measured time is the command's wall time; a non-zero
exit fails the cell with the tail of its stderr. A line `PERFOPT_METRIC name=value` on
the command's stdout becomes a metric, so scripts can report throughput themselves.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from perfopt.command.template import check_command as check_command  # kept importable here
from perfopt.command.template import find_placeholders, substitute
from perfopt.workload import Measurement, Workload

_METRIC = re.compile(r"^PERFOPT_METRIC\s+([A-Za-z_][\w.]*)=([-+0-9.eE]+|nan|inf)\s*$", re.M)
_TAIL = 2000


class CommandFailed(RuntimeError):
    """The command exited with a non-zero status."""


class CommandWorkload(Workload):
    """Any command line; every param other than argv/env is a free axis."""

    name: ClassVar[str] = "command"
    axes: ClassVar[Mapping[str, Any]] = {}
    defaults: ClassVar[Mapping[str, Any]] = {}
    open_axes: ClassVar[bool] = True  # the harness accepts any axis name for this one

    def skip_reason(self, params: Mapping[str, Any]) -> str | None:
        """Refuse a cell whose argv uses a placeholder no param fills."""
        argv = params.get("argv")
        if not isinstance(argv, list) or not argv:
            return "command workload needs argv = [program, args...]"
        missing = sorted(find_placeholders([str(a) for a in argv]) - set(params))
        if missing:
            return f"placeholder(s) {', '.join('{' + m + '}' for m in missing)} have no value"
        return None

    def run(self, params: Mapping[str, Any], cache_dir: Path, workdir: Path) -> Measurement:
        """Run the command once and time it."""
        argv = [substitute(str(a), params) for a in params["argv"]]
        env = dict(os.environ)
        env.update({k: substitute(str(v), params) for k, v in params.get("env", {}).items()})
        env["PERFOPT_WORKDIR"] = str(workdir)
        out_path, err_path = workdir / "command.stdout", workdir / "command.stderr"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            t0 = time.perf_counter()
            try:
                proc = subprocess.run(argv, stdout=out, stderr=err, env=env, check=False)
            except FileNotFoundError as exc:
                raise CommandFailed(f"command {argv[0]!r} not found") from exc
            seconds = time.perf_counter() - t0
        stdout = out_path.read_text(encoding="utf-8", errors="replace")
        if proc.returncode != 0:
            tail = err_path.read_bytes()[-_TAIL:].decode("utf-8", "replace").strip()
            raise CommandFailed(f"exit status {proc.returncode}: {tail}")
        metrics = {name: float(value) for name, value in _METRIC.findall(stdout)}
        return Measurement(
            seconds=seconds,
            stages={"command": seconds},
            metrics=metrics,
            info={"argv": argv, "returncode": proc.returncode},
        )
