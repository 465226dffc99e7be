"""No secret in any output: profile, sweep and optimize, run for real as a user would.

The secrets: a URL password holding '/', a `--password X` pair and an `--api-token=X`
flag. Every file each command writes and its stdout/stderr are searched for them.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest

PASSWORD = "Pa55/w0rd@x"
FLAG_SECRET = "flagsecret-93"
TOKEN = "tokensecret-17"
SECRETS = (PASSWORD, "Pa55/w0rd", FLAG_SECRET, TOKEN)
JOB = "import sys, time; time.sleep(0.3); print('PERFOPT_METRIC args=' + str(len(sys.argv)))"


def _leaks(texts: list[str], folder: Path) -> list[str]:
    """Where a secret appears: 'stdout', 'stderr' or a file path."""
    found = [name for name, text in zip(("stdout", "stderr"), texts, strict=True)
             if any(s in text for s in SECRETS)]  # fmt: skip
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes().decode("utf-8", "replace")
            if any(s in data for s in SECRETS):
                found.append(str(path))
    return found


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfopt", *args], cwd=cwd, capture_output=True, text=True,
        timeout=300, env={"PATH": "/usr/bin:/bin", "PERFOPT_CACHE_DIR": str(cwd / "cache")},
    )  # fmt: skip


def test_profile_writes_no_secret(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://user:{PASSWORD}@db.example:5432/prod"
    out = tmp_path / "prof"
    done = _run(["profile", "--out", str(out), "--", sys.executable, "-c", JOB, url,
                 "--password", FLAG_SECRET, f"--api-token={TOKEN}"], tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "user:***@db.example" in done.stdout and "--password ***" in done.stdout
    assert (out / "profile.json").exists()
    assert _leaks([done.stdout, done.stderr], tmp_path) == []


def test_sweep_writes_no_secret(tmp_path: Path) -> None:
    url = f"postgresql://user:{PASSWORD}@db.example/prod"
    out = tmp_path / "sweep"
    # The second cell fails and prints its arguments on stderr (the error and its tail).
    code = JOB + "; sys.stderr.write(' '.join(sys.argv)); sys.exit({n} - 1)"
    done = _run(["sweep", "--axis", "n=1,2", "--no-pyspy", "--out", str(out), "--",
                 sys.executable, "-c", code, url, "--password", FLAG_SECRET,
                 f"--api-token={TOKEN}"], tmp_path)  # fmt: skip
    assert done.returncode == 3, done.stderr  # one cell failed
    assert (out / "results.jsonl").exists() and (out / "REPORT.md").exists()
    assert "--password ***" in (out / "results.jsonl").read_text()
    assert _leaks([done.stdout, done.stderr], tmp_path) == []


@pytest.mark.postgres
def test_optimize_writes_no_secret(data_dir_small: Path, postgres_url: str, tmp_path: Path) -> None:
    """The test server trusts local users, so any password connects."""
    import uuid

    import optuna

    # A URL spells '@' in a password as %40; '/' may stay as it is.
    url = postgres_url.replace("postgres@", "postgres:Pa55/w0rd%40x@")
    name = f"secret-{uuid.uuid4().hex[:8]}"
    try:
        done = _run(["-v", "optimize", "--data", str(data_dir_small), "--start", "2021-06-01",
                     "--end", "2021-12-31", "--n-trials", "2", "--study-name", name,
                     "--storage-url", url, "--summary-json", str(tmp_path / "s.json"),
                     "--no-progress"], tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "postgres:***@" in done.stdout
        assert _leaks([done.stdout, done.stderr], tmp_path) == []
        # A bad URL's error line is masked too.
        bad = url.replace("5432", "1")
        failed = _run(["optimize", "--data", str(data_dir_small), "--storage", bad,
                       "--no-progress"], tmp_path)  # fmt: skip
        assert failed.returncode == 2 and len(failed.stderr.strip().splitlines()) == 1
        assert _leaks([failed.stdout, failed.stderr], tmp_path) == []
    finally:
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=name, storage=postgres_url)


@pytest.fixture(scope="module")
def data_dir_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from perfopt.data import generate_panel, write_panel

    out = tmp_path_factory.mktemp("secretdata")
    write_panel(generate_panel(6, "2020-01-01", "2021-12-31", seed=3), out)
    return out
