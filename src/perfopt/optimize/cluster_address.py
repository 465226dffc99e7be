"""Where an executor's cluster is: parse --dask-scheduler and --ray-address, probe the scheduler.

Kept apart from the executors so that validating a config needs neither dask nor ray,
and nothing of the run: these checks import only the standard library (and ray, to
tell whether it is installed).
"""

from __future__ import annotations

import re

from perfopt.errors import UserError

CONNECT_TIMEOUT_S = 5
_DASK_LOCAL = re.compile(r"^local:(\d+)$")
_DASK_REMOTE = re.compile(r"^(tcp|tls)://[^\s/:]+:\d+$")
_RAY_LOCAL = _DASK_LOCAL
_RAY_REMOTE = re.compile(r"^(auto|ray://[^\s/:]+:\d+)$")


def parse_scheduler(text: str | None) -> tuple[str, int | str]:
    """("local", N) or ("remote", address) of --dask-scheduler; UserError for anything else."""
    return _parse(
        text, "--dask-scheduler", _DASK_LOCAL, _DASK_REMOTE,
        "a local cluster needs at least 1 worker",
        "use tcp://HOST:PORT (a running scheduler) or local:N (a local cluster of N worker "
        "processes)",
    )  # fmt: skip


def _parse(
    text: str | None, flag: str, local: re.Pattern[str], remote: re.Pattern[str],
    too_few: str, usage: str,
) -> tuple[str, int | str]:  # fmt: skip
    value = (text or "").strip()
    m = local.match(value)
    if m:
        n = int(m.group(1))
        if n < 1:
            raise UserError(f"{flag} {value}: {too_few}")
        return "local", n
    if remote.match(value):
        return "remote", value
    raise UserError(f"{flag} {value!r}: {usage}")


def scheduler_is_remote(text: str | None) -> bool:
    """Whether --dask-scheduler names a running scheduler (workers may be on other hosts)."""
    return parse_scheduler(text)[0] == "remote"


def probe_scheduler(text: str | None) -> None:
    """UserError naming the address when a tcp:// scheduler does not accept connections."""
    import socket

    kind, value = parse_scheduler(text)
    if kind == "local":
        return
    host, port = str(value).split("://", 1)[1].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise UserError(
            f"Dask scheduler {value} is unreachable ({exc.strerror or type(exc).__name__}); "
            "start it (`dask scheduler --host HOST --port PORT`) or fix --dask-scheduler"
        ) from None


def parse_address(text: str | None) -> tuple[str, int | str]:
    """("local", N) or ("remote", address) of --ray-address; UserError for anything else."""
    return _parse(
        text, "--ray-address", _RAY_LOCAL, _RAY_REMOTE,
        "a local Ray instance needs at least 1 CPU",
        "use local:N (a Ray instance of N CPUs started for the run), auto (a cluster "
        "started on this host with `ray start --head`) or ray://HOST:PORT",
    )  # fmt: skip


def check_ray(address: str | None) -> None:
    """Refuse a bad address, or a missing ray package, before any work starts."""
    parse_address(address)
    try:
        import ray  # noqa: F401
    except ImportError:
        raise UserError(
            "--executor ray needs the ray package: pip install 'perfopt[ray]' (or pip install ray)"
        ) from None
