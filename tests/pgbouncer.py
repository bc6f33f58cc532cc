"""PgBouncer (Debian's package) in transaction pooling mode in front of the test run's
PostgreSQL, as docker-compose.yml's `pgbouncer` profile puts it in front of many API
replicas. `make test` installs the package when it is missing and it runs as root."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from ops.embedded import die_with_parent, free_port

PGBOUNCER = "/usr/sbin/pgbouncer"


def _server_of(database_url: str) -> tuple[str, int, str, str]:
    """host (or socket folder), port, user and database name of a PostgreSQL URL."""
    parts = urlsplit(database_url)
    query = parse_qs(parts.query)
    host = parts.hostname or query.get("host", ["/tmp"])[0]
    return host, parts.port or 5432, parts.username or "postgres", parts.path.lstrip("/")


@contextmanager
def pgbouncer(database_url: str, server_pool: int = 2) -> Iterator[str]:
    """A URL of `database_url`'s database through PgBouncer, transaction pooling, with at
    most `server_pool` server connections (fewer than the client's pool, so consecutive
    transactions of one client connection land on different server connections)."""
    if not Path(PGBOUNCER).exists():
        raise RuntimeError("pgbouncer is missing: sudo apt-get install -y pgbouncer")
    host, port, user, database = _server_of(database_url)
    forwarder = None
    if host.startswith("/"):
        # PgBouncer runs as `nobody`, who may not enter the folder of the embedded server's
        # Unix socket: it reaches the server through a TCP port of this process instead
        forwarder = _UnixForwarder(f"{host}/.s.PGSQL.{port}")
        host, port = "127.0.0.1", forwarder.port
    folder = Path(tempfile.mkdtemp(prefix="bx-pgbouncer-"))
    listen = free_port()
    (folder / "userlist.txt").write_text(f'"{user}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"{database} = host={host} port={port} dbname={database} user={user}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {listen}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'userlist.txt'}\n"
        f"pool_mode = transaction\ndefault_pool_size = {server_pool}\n"
        "max_client_conn = 500\nignore_startup_parameters = extra_float_digits\n"
        f"logfile = {folder / 'pgbouncer.log'}\n"
    )
    # readable by the unprivileged user it runs as, and its log writable by it
    folder.chmod(0o777)
    for path in folder.iterdir():
        path.chmod(0o644)
    # PgBouncer refuses to run as root: -u drops to an unprivileged user
    user_args = ["-u", "nobody"] if os.geteuid() == 0 else []
    with open(folder / "stderr.log", "wb") as stderr:
        process = subprocess.Popen(
            [PGBOUNCER, *user_args, str(folder / "pgbouncer.ini")],
            stdout=stderr,
            stderr=stderr,
            preexec_fn=die_with_parent,
        )
    try:
        _wait_listening(listen, process, folder)
        netloc = f"{user}@127.0.0.1:{listen}"
        yield urlunsplit(("postgresql", netloc, f"/{database}", "", ""))
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
        if forwarder is not None:
            forwarder.close()


class _UnixForwarder:
    """A TCP port on 127.0.0.1 whose connections are passed on to a Unix socket, byte for
    byte, by two threads a connection."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(self._path)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self._listener.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:  # each socket is read by one thread, which closes it when done
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
        source.close()


def _wait_listening(port: int, process: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    logs = [p.read_text() for p in (folder / "pgbouncer.log", folder / "stderr.log") if p.exists()]
    raise RuntimeError(f"pgbouncer did not start: {logs}")
