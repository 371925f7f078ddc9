"""How fast `soldscope validate` checks many stores against a slow Amazon (the local simulator).

Every request to the simulator takes an extra 50 ms; a check is two requests (LWA refresh and
getMarketplaceParticipations), so with N stores and concurrency C the ideal wall time is
ceil(N / C) × 2 × 50 ms. The simulator's rate limits are switched off: this measures soldscope.

    .venv/bin/python benchmarks/validate_bench.py [--stores 500] [--runs 3] [--latency-ms 50]
    .venv/bin/python benchmarks/validate_bench.py --keyring --stores 200
    .venv/bin/python benchmarks/validate_bench.py --keyring --connect --stores 200

With --keyring the tokens live in a real Secret Service: the benchmark runs itself again inside a
private D-Bus session with a throwaway, unlocked gnome-keyring (as a desktop user has it; needs
`dbus-run-session` and `gnome-keyring-daemon`), where every token read costs a D-Bus round trip.
With --connect the home is built as a user builds it: `soldscope app set`, then one
`soldscope connect NAME --refresh-token-stdin` per store (with the latency off while building),
so the client secret, the namespace and every token are where the commands put them, and the
state database holds what connecting records. Without it, config and secrets are written directly.
--soldscope PATH times another installation of the command (e.g. an older release) against the
same simulator and secrets.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from soldscope_cli.simulator import Simulator, parse_scenario

SOLDSCOPE = Path(sys.executable).parent / "soldscope"
# The namespace the seeded home uses for its keyring entries ([secrets] namespace in config.toml).
NAMESPACE = "benchmark000001"
KEYRING_SETUP = "echo -n throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null"


def scenario(stores: int, latency_ms: float) -> Simulator:
    """A simulator with one NA seller per store, fixed latency and no rate limits."""
    sellers = [
        {"selling_partner_id": f"A1BENCH{i:06d}", "region": "na", "marketplaces": ["US"]}
        for i in range(stores)
    ]
    return Simulator(
        parse_scenario(
            {
                "sellers": sellers,
                "rate_limits": {"enabled": False},
                "latency": {"default_ms": latency_ms},
            }
        )
    )


def seed(home: Path, sim: Simulator, stores: int, *, keyring: bool = False) -> None:
    """Config and secrets written directly (connecting 500 stores one by one is not measured).

    Secrets go to the file backend, or to the OS keyring under the home's namespace (and without
    it, as releases before namespaces read them).
    """
    config, data = home / "config", home / "data"
    config.mkdir(parents=True)
    data.mkdir(parents=True)
    lines = [f'# benchmark stores\n[secrets]\nnamespace = "{NAMESPACE}"\n\n']
    secrets: dict[str, str] = {}
    for i in range(stores):
        name = f"bench-{i:04d}"
        lines.append(
            f'[stores.{name}]\nregion = "na"\nmarketplaces = ["US"]\n'
            f'selling_partner_id = "A1BENCH{i:06d}"\nauthorized_at = 2026-11-01T00:00:00Z\n\n'
        )
        secrets[f"refresh-token:{name}"] = sim.authorize(f"A1BENCH{i:06d}")
    (config / "config.toml").write_text("".join(lines))
    if keyring:
        import keyring as os_keyring

        for key, value in secrets.items():
            os_keyring.set_password("soldscope", f"{NAMESPACE}/{key}", value)
            os_keyring.set_password("soldscope", key, value)
        return
    path = data / "secrets.json"
    path.write_text(json.dumps({f"{NAMESPACE}/{k}": v for k, v in secrets.items()}))
    path.chmod(0o600)


def build_by_connect(env: dict[str, str], sim: Simulator, stores: int) -> None:
    """A home built through the commands: `app set`, then `connect` for every store."""
    app = sim.scenario.app
    latency = sim.scenario.latency.default_ms
    sim.set_latency(0)
    try:
        run(
            env,
            "app",
            "set",
            "--app-id",
            app.application_id,
            "--client-id",
            app.client_id,
            "--client-secret-stdin",
            stdin=app.client_secret,
        )
        for i in range(stores):
            seller = f"A1BENCH{i:06d}"
            run(
                env,
                "connect",
                f"bench-{i:04d}",
                "--marketplace",
                "US",
                "--selling-partner-id",
                seller,
                "--refresh-token-stdin",
                stdin=sim.authorize(seller),
            )
    finally:
        sim.set_latency(latency)


def run(
    env: dict[str, str], *args: str, command: Path = SOLDSCOPE, stdin: str | None = None
) -> float:
    """Wall seconds of one `soldscope ...` run (which must succeed)."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(command), *args], env=env, input=stdin, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"soldscope {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return elapsed


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--skip-sequential", action="store_true")
    parser.add_argument("--keyring", action="store_true", help="tokens in a real Secret Service")
    parser.add_argument("--connect", action="store_true", help="build the home by `connect`")
    parser.add_argument("--soldscope", type=Path, action="append", default=[], help="also time")
    parser.add_argument("--inside-session", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.keyring and not options.inside_session:
        rerun_in_keyring_session()
        return

    with tempfile.TemporaryDirectory() as tmp, scenario(options.stores, options.latency_ms) as sim:
        home = Path(tmp)
        app = sim.scenario.app
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SOLDSCOPE_")},
            **sim.env(),
            "SOLDSCOPE_CONFIG_DIR": str(home / "config"),
            "SOLDSCOPE_DATA_DIR": str(home / "data"),
            "SOLDSCOPE_SECRETS": "keyring" if options.keyring else "file",
        }
        if options.connect:
            build_by_connect(env, sim, options.stores)
        else:
            seed(home, sim, options.stores, keyring=options.keyring)
            env["SOLDSCOPE_APP_ID"] = app.application_id
            env["SOLDSCOPE_LWA_CLIENT_ID"] = app.client_id
            env["SOLDSCOPE_LWA_CLIENT_SECRET"] = app.client_secret
        startup = statistics.median(run(env, "--version") for _ in range(3))
        ideal = math.ceil(options.stores / options.concurrency) * 2 * options.latency_ms / 1000
        runs = [
            run(env, "validate", "--concurrency", str(options.concurrency))
            for _ in range(options.runs)
        ]
        median = statistics.median(runs)
        where = "a real Secret Service (gnome-keyring)" if options.keyring else "the file backend"
        built = "built by `connect`" if options.connect else "seeded"
        print(
            f"stores: {options.stores}, latency: {options.latency_ms:g} ms/request, "
            f"tokens in {where}, home {built}"
        )
        print(f"process start-up (soldscope --version): {startup:.2f} s")
        print(
            f"validate --concurrency {options.concurrency}: median {median:.2f} s of "
            f"{', '.join(f'{r:.2f}' for r in runs)}; ideal {ideal:.2f} s; "
            f"ratio {median / ideal:.2f}x (target <= 1.30x)"
        )
        # Releases before namespaces refuse [secrets] namespace: they read a copy of the config
        # without it (and the unprefixed keyring entries seeded beside the namespaced ones).
        older = home / "config-without-namespace"
        older.mkdir()
        (older / "config.toml").write_text(
            (home / "config" / "config.toml").read_text().replace(f'namespace = "{NAMESPACE}"', "")
        )
        older_env = {
            **env,
            "SOLDSCOPE_CONFIG_DIR": str(older),
            "SOLDSCOPE_DATA_DIR": str(home / "data-older"),  # its own schema
        }
        for other in options.soldscope:
            # Interleaved with this installation's runs would be fairer; one after the other
            # against the same simulator and secrets is close enough for a ratio.
            other_runs = [
                run(older_env, "validate", "--concurrency", str(options.concurrency), command=other)
                for _ in range(options.runs)
            ]
            other_median = statistics.median(other_runs)
            print(
                f"{other}: validate median {other_median:.2f} s of "
                f"{', '.join(f'{r:.2f}' for r in other_runs)}; ratio {other_median / ideal:.2f}x"
            )
        if not options.skip_sequential:
            sequential = run(env, "validate", "--concurrency", "1")
            ideal_1 = options.stores * 2 * options.latency_ms / 1000
            print(
                f"validate --concurrency 1: {sequential:.2f} s (ideal {ideal_1:.2f} s); "
                f"speed-up {sequential / median:.1f}x"
            )
        print(f"simulator counted {sim.counters()['total']} requests")


def rerun_in_keyring_session() -> None:
    """This benchmark again, inside a private D-Bus session with a fresh, unlocked keyring."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "run").mkdir(mode=0o700)
        env = {
            **os.environ,
            "HOME": str(home / "home"),
            "XDG_DATA_HOME": str(home / "home" / ".local" / "share"),
            "XDG_RUNTIME_DIR": str(home / "run"),
        }
        env.pop("PYTHON_KEYRING_BACKEND", None)
        args = " ".join(
            f"'{a}'" for a in [sys.executable, __file__, *sys.argv[1:], "--inside-session"]
        )
        done = subprocess.run(
            ["dbus-run-session", "--", "bash", "-c", f"{KEYRING_SETUP} && exec {args}"],
            env=env,
            check=False,
        )
        if done.returncode:
            raise SystemExit(done.returncode)


if __name__ == "__main__":
    main()
