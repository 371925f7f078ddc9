"""Checks of this machine's files: versions, directories, permissions, config, database, lock."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from importlib.metadata import PackageNotFoundError
from pathlib import Path

from soldscope_cli import __version__
from soldscope_cli.db.interface import LocalFile
from soldscope_cli.doctor.model import CheckResult, Level, worst
from soldscope_cli.errors import ConfigError
from soldscope_cli.fleet.config import Config, format_time, parse_config, parse_time
from soldscope_cli.fleet.paths import Paths

DISTRIBUTION = "soldscope-cli"
KEY_DEPENDENCIES = (
    "typer",
    "click",
    "rich",
    "httpx",
    "keyring",
    "platformdirs",
    "filelock",
    "tomli-w",
    "ijson",
    "certifi",
)
REINSTALL = "reinstall soldscope: `pipx reinstall soldscope-cli` (or `pip install --force-reinstall soldscope-cli`)"
# A sync of many stores with multi-gigabyte Brand Analytics documents can take hours; half a day
# holding the lock is no longer plausible.
STUCK_SYNC = timedelta(hours=12)


def check_versions(version_of: Callable[[str], str], python_version: str) -> CheckResult:
    """soldscope, Python and the key dependencies, as installed."""
    found: list[str] = []
    missing: list[str] = []
    for name in KEY_DEPENDENCIES:
        try:
            found.append(f"{name} {version_of(name)}")
        except PackageNotFoundError:
            missing.append(name)
    try:
        installed: str | None = version_of(DISTRIBUTION)
    except PackageNotFoundError:
        installed = None  # running from a source tree
    detail = f"soldscope {__version__}, Python {python_version}; " + ", ".join(found)
    if missing:
        return CheckResult(
            "versions",
            "Versions",
            Level.FAIL,
            f"{detail}; not installed: {', '.join(missing)}",
            REINSTALL,
        )
    if installed is not None and installed != __version__:
        return CheckResult(
            "versions",
            "Versions",
            Level.WARN,
            f"{detail}; the installed package says {installed} but the code is {__version__} "
            "(a stale or mixed installation)",
            REINSTALL,
        )
    return CheckResult("versions", "Versions", Level.OK, detail)


def _user(uid: int) -> str:
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _name(uid: int) -> str:
    return _user(uid).split(" (")[0]


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def check_directory(
    check_id: str, title: str, path: Path, env: Mapping[str, str], env_var: str, uid: int
) -> CheckResult:
    """Where a directory is, and whether this user owns it and can write to it."""
    source = f"from {env_var}" if env.get(env_var) else f"default; set {env_var} to move it"
    where = f"{path} ({source})"
    if not path.exists():
        parent = _nearest_existing(path.parent)
        if os.access(parent, os.W_OK | os.X_OK):
            return CheckResult(
                check_id, title, Level.OK, f"{where}: not created yet; soldscope creates it on use"
            )
        return CheckResult(
            check_id,
            title,
            Level.FAIL,
            f"{where}: does not exist and cannot be created ({parent} is not writable)",
            f"create it: `mkdir -p {path}` as a user who can, then `chown {_name(uid)} "
            f"{path}`; or set {env_var} to a writable directory",
        )
    if not path.is_dir():
        return CheckResult(
            check_id,
            title,
            Level.FAIL,
            f"{where}: exists but is not a directory",
            f"move {path} aside, or set {env_var} to a directory",
        )
    info = path.stat()
    if info.st_uid != uid:
        return CheckResult(
            check_id,
            title,
            Level.FAIL,
            f"{where}: owned by {_user(info.st_uid)}, but soldscope runs as {_user(uid)}; "
            "files written here would be unreadable to one of you",
            f"`sudo chown -R {_name(uid)} {path}`, or run soldscope as its owner",
        )
    if not os.access(path, os.W_OK | os.X_OK):
        return CheckResult(
            check_id,
            title,
            Level.FAIL,
            f"{where}: not writable",
            f"`chmod u+rwx {path}`",
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return CheckResult(
            check_id,
            title,
            Level.WARN,
            f"{where}: writable by other users (mode {stat.S_IMODE(info.st_mode):o}), who could "
            "replace soldscope's files",
            f"`chmod go-w {path}`",
        )
    return CheckResult(check_id, title, Level.OK, f"{where}: yours and writable")


def sensitive_files(paths: Paths) -> list[tuple[Path, bool]]:
    """(file, holds secrets) for every private file soldscope may have written."""
    files = [
        (paths.config_file, False),
        (paths.secrets_file, True),
        (paths.database, False),
        (paths.database.with_name(paths.database.name + "-wal"), False),
        (paths.log_file, False),
    ]
    rotated = (
        sorted(paths.data_dir.glob(paths.log_file.name + ".*")) if paths.data_dir.is_dir() else []
    )
    files.extend((path, False) for path in rotated)
    return [(path, secret) for path, secret in files if path.is_file()]


def check_file_modes(paths: Paths, uid: int) -> CheckResult:
    """Private files (config, secrets, database, logs) are mode 0600 and owned by this user."""
    files = sensitive_files(paths)
    if not files:
        return CheckResult("file-modes", "Private files", Level.OK, "none written yet")
    loose: list[str] = []
    foreign: list[str] = []
    level = Level.OK
    for path, secret in files:
        info = path.stat()
        if info.st_uid != uid:
            foreign.append(f"{path} (owner {_user(info.st_uid)})")
            level = worst([level, Level.WARN])
        if info.st_mode & 0o077:
            loose.append(f"{path} (mode {stat.S_IMODE(info.st_mode):o})")
            # secrets.json is plaintext secrets: readable by others is a leak, not a nicety.
            level = worst([level, Level.FAIL if secret else Level.WARN])
    if level is Level.OK:
        names = ", ".join(path.name for path, _ in files)
        return CheckResult("file-modes", "Private files", Level.OK, f"{names}: mode 0600, yours")
    problems = []
    fixes = []
    if loose:
        problems.append("readable or writable by other users: " + ", ".join(loose))
        fixes.append("`chmod 600 " + " ".join(p.split(" (")[0] for p in loose) + "`")
    if foreign:
        problems.append("owned by another user: " + ", ".join(foreign))
        fixes.append(
            f"`sudo chown {_name(uid)} " + " ".join(p.split(" (")[0] for p in foreign) + "`"
        )
    return CheckResult("file-modes", "Private files", level, "; ".join(problems), "; ".join(fixes))


def lock_files(paths: Paths) -> list[Path]:
    """The lock files soldscope takes: config edits, the secrets file, one sync at a time."""
    return [
        paths.config_lock,
        paths.secrets_file.with_name(paths.secrets_file.name + ".lock"),
        paths.sync_lock,
    ]


def check_lock_files(paths: Paths, uid: int) -> CheckResult:
    """Lock files are 0600 and this user's: a lock another user can open, they can hold."""
    title = "Lock files"
    foreign: list[str] = []
    loose: list[str] = []
    for path in lock_files(paths):
        try:
            info = path.lstat()
        except OSError:
            continue
        if info.st_uid != uid:
            foreign.append(f"{path} (owner {_user(info.st_uid)})")
        elif stat.S_IMODE(info.st_mode) & 0o077:
            loose.append(f"{path} (mode {stat.S_IMODE(info.st_mode):o})")
    if foreign:
        # Holding sync.lock makes every cron sync exit 75, which cron takes as success.
        dirs = sorted({str(Path(p.split(" (")[0]).parent) for p in foreign})
        return CheckResult(
            "lock-files",
            title,
            Level.FAIL,
            "owned by another user, who can hold them and block soldscope: " + ", ".join(foreign),
            "when no soldscope is running, `rm "
            + " ".join(p.split(" (")[0] for p in foreign)
            + "` and `chmod 700 "
            + " ".join(dirs)
            + "`; soldscope recreates them 0600",
        )
    if loose:
        return CheckResult(
            "lock-files",
            title,
            Level.WARN,
            "other users can open: " + ", ".join(loose),
            "`chmod 600 " + " ".join(p.split(" (")[0] for p in loose) + "`",
        )
    return CheckResult("lock-files", title, Level.OK, "mode 0600 and yours (or not created yet)")


def load_config(paths: Paths) -> tuple[Config | None, CheckResult]:
    """The parsed config (None when unusable) and the check saying so; never writes anything."""
    path = paths.config_file
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config(), CheckResult(
            "config",
            "Config file",
            Level.OK,
            f"{path}: not created yet (a fresh install); `soldscope app set` creates it",
        )
    except OSError as exc:
        return None, CheckResult(
            "config",
            "Config file",
            Level.FAIL,
            f"{path}: cannot read: {exc.strerror}",
            f"make it readable: `chmod 600 {path}` as its owner",
        )
    try:
        config = parse_config(path, raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, CheckResult(
            "config", "Config file", Level.FAIL, f"{path}: not UTF-8 text", "fix it by hand"
        )
    except ConfigError as exc:
        return None, CheckResult("config", "Config file", Level.FAIL, exc.message, exc.hint)
    count = len(config.stores)
    return config, CheckResult(
        "config",
        "Config file",
        Level.OK,
        f"{path}: valid ({count} store{'' if count == 1 else 's'})",
    )


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"


def check_database(
    path: Path, monotonic: Callable[[], float], budget: float, local: LocalFile
) -> list[CheckResult]:
    """The state database opens, passes PRAGMA integrity_check and has every migration applied."""
    title = "State database"
    if not path.exists():
        return [
            CheckResult(
                "database",
                title,
                Level.OK,
                f"{path}: not created yet (the first connect, validate or sync creates it)",
            )
        ]
    aside = (
        f"restore {path} from a backup, or move it aside (`mv {path} {path}.broken`) so soldscope "
        "starts afresh: statuses come back with `soldscope validate`, data with `soldscope sync`"
    )
    report = local.integrity(path, monotonic, budget)
    if report.error is not None:
        return [CheckResult("database", title, Level.FAIL, f"{path}: {report.error}", aside)]
    if report.findings:
        rows = report.findings
        shown = "; ".join(rows[:3]) + (f" (and {len(rows) - 3} more)" if len(rows) > 3 else "")
        return [
            CheckResult("database", title, Level.FAIL, f"{path}: integrity check: {shown}", aside)
        ]
    if report.finished:
        integrity = CheckResult(
            "database", title, Level.OK, f"{path} ({_size(path)}): integrity check ok"
        )
    else:
        integrity = CheckResult(
            "database",
            title,
            Level.WARN,
            f"{path} ({_size(path)}): opens, but the integrity check did not finish within "
            f"{budget:g} s",
            f"run it without a time limit: `sqlite3 {path} 'PRAGMA integrity_check'`",
        )
    return [integrity, _check_migrations(path, set(report.applied_migrations), local)]


def _check_migrations(path: Path, applied: set[str], local: LocalFile) -> CheckResult:
    title = "Database schema"
    known = local.known_migrations()
    try:
        pending = local.pending_migrations(path)
    except ConfigError as exc:
        return CheckResult("migrations", title, Level.FAIL, exc.message, exc.hint)
    unknown = sorted(applied - set(known))
    if unknown:
        return CheckResult(
            "migrations",
            title,
            Level.WARN,
            f"the database has migrations this soldscope does not know ({', '.join(unknown)}): "
            "a newer soldscope has used it",
            "upgrade soldscope on this machine: `pipx upgrade soldscope-cli`",
        )
    if pending:
        return CheckResult(
            "migrations",
            title,
            Level.WARN,
            f"{len(pending)} migration(s) not applied yet ({', '.join(pending)}); the next "
            "command that opens the database applies them",
            "apply them now: `soldscope validate` (or the next `soldscope sync`)",
        )
    return CheckResult("migrations", title, Level.OK, f"current ({len(known)} migrations applied)")


def _process_name(proc_root: str, pid: int) -> str | None:
    try:
        raw = Path(proc_root, str(pid), "cmdline").read_bytes()
    except OSError:
        return None
    text = " ".join(part.decode("utf-8", "replace") for part in raw.split(b"\0") if part)
    return text[:120] or None


def check_sync_lock(lock_path: Path, now: datetime, proc_root: str = "/proc") -> CheckResult:
    """Whether a sync holds the lock, and who and since when (from the lock's holder sidecar)."""
    import filelock

    from soldscope_cli.sync.lock import holder_file

    title = "Sync lock"
    if not lock_path.exists():
        return CheckResult("sync-lock", title, Level.OK, "no sync running")
    # Taking the lock for an instant is the only portable way to learn whether it is held; a sync
    # starting in that instant exits 75 and cron runs it next time.
    lock = filelock.FileLock(str(lock_path), timeout=0, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        held = True
    except OSError as exc:
        return CheckResult(
            "sync-lock",
            title,
            Level.WARN,
            f"{lock_path}: cannot test the lock: {exc.strerror or exc}",
            f"run doctor as the user who runs sync, or check the owner of {lock_path}",
        )
    else:
        held = False
        lock.release()
    sidecar = holder_file(lock_path)
    try:
        info = json.loads(sidecar.read_text(encoding="utf-8"))
        pid: int | None = int(info["pid"])
        started: datetime | None = parse_time(str(info["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        pid, started = None, None
    if not held:
        detail = "no sync running"
        if pid is not None:
            detail += f" (a sync by pid {pid} ended without cleaning up, e.g. killed; harmless)"
        return CheckResult("sync-lock", title, Level.OK, detail)
    if pid is None or started is None:
        return CheckResult(
            "sync-lock",
            title,
            Level.OK,
            f"a sync is running ({lock_path} is locked; its pid and start time are unknown)",
        )
    running = now - started
    minutes = max(0, int(running.total_seconds() // 60))
    command = _process_name(proc_root, pid)
    detail = (
        f"a sync is running: pid {pid}"
        + (f" ({command})" if command else "")
        + f", since {format_time(started)} ({minutes // 60} h {minutes % 60} min)"
    )
    if running > STUCK_SYNC:
        return CheckResult(
            "sync-lock",
            title,
            Level.WARN,
            detail + "; that is unusually long",
            f"see what it does (`ps -o pid,etime,args -p {pid}`, the log in "
            f"{lock_path.parent}); if it is stuck, `kill {pid}`: the next sync resumes safely",
        )
    return CheckResult("sync-lock", title, Level.OK, detail)
