"""The loopback port `connect` listens on: free, or which process holds it."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from soldscope_cli.amazon.endpoints import is_loopback_http
from soldscope_cli.consent.listener import LISTEN_HOST
from soldscope_cli.doctor.model import CheckResult, Level
from soldscope_cli.redact import redact
from soldscope_cli.untrusted import printable

_TCP_LISTEN = "0A"


def listener_port(redirect_uri: str | None) -> int | None:
    """The fixed port of a loopback redirect URI; None when connect picks a free one."""
    if not redirect_uri or not is_loopback_http(redirect_uri):
        return None
    try:
        return urlsplit(redirect_uri).port or 80
    except ValueError:
        return None


def listening_inodes(port: int, proc_root: str = "/proc") -> set[str]:
    """Socket inodes listening on a TCP port, from /proc/net/tcp and tcp6 (Linux)."""
    inodes: set[str] = set()
    for name in ("tcp", "tcp6"):
        try:
            lines = Path(proc_root, "net", name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _TCP_LISTEN:
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def pids_for_inodes(inodes: set[str], proc_root: str = "/proc") -> list[tuple[int, str]]:
    """(pid, command) of processes with an open fd on one of the sockets (only our own are visible)."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    found: list[tuple[int, str]] = []
    try:
        entries = os.listdir(proc_root)
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        fd_dir = Path(proc_root, entry, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue  # another user's process, or it just exited
        for fd in fds:
            try:
                link = os.readlink(fd_dir / fd)
            except OSError:
                continue
            if link in wanted:
                found.append((int(entry), _command(proc_root, int(entry))))
                break
    return sorted(found)


def _shown(command: str) -> str:
    """Another program's command line as doctor may print it: it is text from outside (escape
    sequences removed) and may carry a token (redacted)."""
    return printable(redact(command), limit=120)


def _command(proc_root: str, pid: int) -> str:
    try:
        raw = Path(proc_root, str(pid), "cmdline").read_bytes()
        text = " ".join(p.decode("utf-8", "replace") for p in raw.split(b"\0") if p)
        if text:
            return _shown(text)
        return _shown(Path(proc_root, str(pid), "comm").read_text())
    except OSError:
        return "?"


def lsof_holders(port: int, timeout: float = 2.0) -> list[tuple[int, str]]:
    """(pid, command) from `lsof` when it is installed (macOS, or Linux without /proc access)."""
    lsof = shutil.which("lsof")
    if lsof is None:
        return []
    try:
        done = subprocess.run(
            [lsof, "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-Fpc"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    found: list[tuple[int, str]] = []
    pid: int | None = None
    for line in done.stdout.splitlines():
        if line.startswith("p") and line[1:].isdigit():
            pid = int(line[1:])
        elif line.startswith("c") and pid is not None:
            found.append((pid, _shown(line[1:])))
            pid = None
    return found


def port_holders(port: int, proc_root: str = "/proc") -> list[tuple[int, str]]:
    """Who listens on a port, as far as this user may see."""
    if sys.platform.startswith("linux"):
        holders = pids_for_inodes(listening_inodes(port, proc_root), proc_root)
        if holders:
            return holders
    return lsof_holders(port)


def is_soldscope_serve(command: str) -> bool:
    """Whether a process's command line is `soldscope serve` (any interpreter, any options)."""
    words = command.split()
    for i, word in enumerate(words):
        program = word.rsplit("/", 1)[-1]
        if program == "soldscope" or word in ("soldscope_cli", "soldscope_cli.__main__"):
            options = [w for w in words[i + 1 :] if not w.startswith("-")]
            return bool(options) and options[0] == "serve"
    return False


def check_callback_port(redirect_uri: str | None, proc_root: str = "/proc") -> CheckResult:
    """The port `connect` will listen on is free (or will be picked free at run time)."""
    title = "Consent callback port"
    port = listener_port(redirect_uri)
    if port is None:
        return CheckResult(
            "callback-port",
            title,
            Level.OK,
            f"connect listens on {LISTEN_HOST} on a free port picked at run time",
        )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # As the consent listener binds (SO_REUSEADDR off Windows), so TIME_WAIT is not "in use".
        if sys.platform != "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LISTEN_HOST, port))
    except OSError as exc:
        if exc.errno == errno.EACCES:
            return CheckResult(
                "callback-port",
                title,
                Level.FAIL,
                f"{LISTEN_HOST}:{port} (from the redirect URI) needs privileges to listen on",
                "register a loopback redirect URI with a port above 1023",
            )
        holders = port_holders(port, proc_root)
        servers = [pid for pid, cmd in holders if is_soldscope_serve(cmd)]
        if holders and len(servers) == len(holders):
            # serve answers the invitations' callbacks there: the normal state of a server.
            pids = ", ".join(f"pid {pid}" for pid in servers)
            return CheckResult(
                "callback-port",
                title,
                Level.OK,
                f"{LISTEN_HOST}:{port} (from the redirect URI) is held by soldscope serve "
                f"({pids}), which answers the consent callbacks; connect stores through "
                "`soldscope invite NAME` while it runs",
            )
        who = (
            "held by " + ", ".join(f"pid {pid} ({cmd})" for pid, cmd in holders)
            if holders
            else "the process holding it could not be identified (another user's?)"
        )
        return CheckResult(
            "callback-port",
            title,
            Level.FAIL,
            f"{LISTEN_HOST}:{port} (from the redirect URI {redirect_uri}) is in use: {who}",
            "stop that process, or use a redirect URI with a free port: "
            f"`soldscope app set --redirect-uri http://{LISTEN_HOST}:PORT/callback`",
        )
    finally:
        sock.close()
    return CheckResult(
        "callback-port",
        title,
        Level.OK,
        f"{LISTEN_HOST}:{port} (from the redirect URI) is free",
    )
