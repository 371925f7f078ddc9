"""Running a benchmarked command and reading its own peak memory and CPU time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, token_key
from soldscope_cli.simulator import Simulator

CHECKOUT = Path(__file__).resolve().parents[1]

# The soldscope command installed next to this interpreter (the checkout's venv).
SOLDSCOPE = Path(sys.executable).parent / "soldscope"

# Starts the measured command and writes its rusage to a file. A process started straight from
# this one would report this process's peak RSS as its own (Linux keeps the peak of the memory
# a child had before exec), and this one holds the simulator and its documents: a small
# launcher in between keeps the figure the command's own.
LAUNCHER = textwrap.dedent(
    """
    import json, os, subprocess, sys
    process = subprocess.Popen(sys.argv[2:])
    _, status, usage = os.wait4(process.pid, 0)
    with open(sys.argv[1], "w") as out:
        json.dump({"maxrss": usage.ru_maxrss, "cpu": usage.ru_utime + usage.ru_stime}, out)
    sys.exit(os.waitstatus_to_exitcode(status))
    """
)


def run_measured(
    args: list[str], env: dict[str, str] | None = None
) -> tuple[str, int, float, float]:
    """(stdout, peak RSS in KiB, wall seconds, CPU seconds) of a child process, from its own
    rusage (which covers the processes it waited for: the peak is the largest one's)."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as measured:
        out, seconds = _run([sys.executable, "-c", LAUNCHER, measured.name, *args], env, args[0])
        usage = json.load(measured)
    return out, int(usage["maxrss"]), seconds, float(usage["cpu"])


def _run(args: list[str], env: dict[str, str] | None, name: str) -> tuple[str, float]:
    """Stdout and wall seconds of a command that must succeed (`name` in the error)."""
    started = time.perf_counter()
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        out, err = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(
            f"{name} exited {process.returncode}: {err.decode(errors='replace')[-2000:]}"
        )
    return out.decode(), seconds


def prepare_home(
    home: Path,
    sim: Simulator,
    *,
    client_id: str,
    secret: str,
    seller: str,
    store: str,
    region: str,
    marketplace: str,
) -> dict[str, str]:
    """Config and file secrets for one store; returns the environment of the command."""
    (home / "config").mkdir(parents=True)
    (home / "data").mkdir(parents=True)
    (home / "config" / "config.toml").write_text(
        textwrap.dedent(
            f"""
            [app]
            application_id = "amzn1.sp.solution.benchmark"
            client_id = "{client_id}"

            [stores.{store}]
            region = "{region}"
            marketplaces = ["{marketplace}"]
            selling_partner_id = "{seller}"
            authorized_at = 2026-11-01T00:00:00Z
            """
        )
    )
    secrets = home / "data" / "secrets.json"
    secrets.write_text(
        json.dumps({CLIENT_SECRET_KEY: secret, token_key(store): sim.authorize(seller)})
    )
    secrets.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLDSCOPE_")}
    return {
        **env,
        "SOLDSCOPE_CONFIG_DIR": str(home / "config"),
        "SOLDSCOPE_DATA_DIR": str(home / "data"),
        "SOLDSCOPE_SECRETS": "file",
        **sim.env(),
    }


def start_throwaway_cluster() -> Any:
    """The tests' throwaway PostgreSQL cluster (tests/pg.py), so benchmarks and tests start it
    alike; the caller stops it."""
    sys.path.insert(0, str(CHECKOUT))
    try:
        from tests.pg import start_cluster
    except ImportError as exc:
        raise SystemExit(
            f"cannot import tests/pg.py from {CHECKOUT} ({exc}): run from a checkout with the "
            "test extras installed, or pass --database-url"
        ) from None
    try:
        return start_cluster()
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None


@contextmanager
def postgres_server(database_url: str | None) -> Iterator[str]:
    """An admin URL: the given server's, else a throwaway cluster's, stopped after."""
    if database_url is not None:
        yield database_url
        return
    cluster = start_throwaway_cluster()
    try:
        yield str(cluster.url("postgres"))
    finally:
        cluster.stop()


@contextmanager
def fresh_database(admin_url: str, label: str) -> Iterator[str]:
    """A new empty database on the server of `admin_url`, dropped after (even if in use)."""
    import psycopg

    name = f"soldscope_{label}_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path="/" + name))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())


def access_token(http: Any, sim: Simulator, seller: str, client_id: str, secret: str) -> str:
    """An LWA access token of `seller` from the simulator (for a benchmark's own requests)."""
    answer = http.post(
        "/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": sim.authorize(seller),
            "client_id": client_id,
            "client_secret": secret,
        },
    )
    return str(answer.json()["access_token"])
