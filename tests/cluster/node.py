"""A real single-node SLURM cluster for the tests: munge, MariaDB, slurmdbd, slurmctld and slurmd, all run from
the configuration files beside this module under one temporary folder, and stopped again.

No systemd and no cgroups are needed (processes are tracked through /proc), so this runs in a container as
root. Ports are chosen free at start, so that it never collides with another service on the machine.
"""

from __future__ import annotations

import getpass
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DAEMONS = ("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd", "sacctmgr", "sbatch")
PARTITION = "cpu"
ACCOUNT = "ganrepro"
# Where a configless slurmd caches the cluster's configuration and where SLURM's commands look when neither
# SLURM_CONF nor /etc/slurm/slurm.conf is there. Inside a job, snakemake-executor-plugin-slurm starts the rule
# with `srun` after removing every SLURM_* variable but the job's identity (SLURM_CONF too), so the job's srun
# finds the test cluster only here: start() links it to the cluster's folder, stop() removes the link.
CONFIG_LINK = Path("/run/slurm/conf")
SYSTEM_CONFIG = Path("/etc/slurm/slurm.conf")


def missing_programs() -> list[str]:
    """The SLURM, munge and MariaDB programs that are not installed (empty when the cluster can start)."""
    return [name for name in DAEMONS if shutil.which(name) is None]


def unusable_reason() -> str | None:
    """Why a test cluster cannot start on this machine, or None."""
    missing = missing_programs()
    if missing:
        return (
            f"{', '.join(missing)} not installed "
            "(apt-get install slurmctld slurmd slurm-client slurmdbd munge mariadb-server)"
        )
    if os.geteuid() != 0:
        return "slurmd must run as root to start jobs"
    for path in (SYSTEM_CONFIG, CONFIG_LINK):
        if path.exists():  # a dangling CONFIG_LINK is what a killed test run leaves: start() replaces it
            return f"{path} exists: this machine has its own SLURM configuration, which jobs would use"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory_mb() -> int:
    """The node's memory as slurmd will measure it, rounded down so that it never registers as too small."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024 * 9 // 10
    raise RuntimeError("no MemTotal in /proc/meminfo")


@dataclass
class Cluster:
    """One running test cluster: its folder, the environment that points SLURM's commands at it, its daemons."""

    root: Path
    partition: str = PARTITION
    account: str = ACCOUNT
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    linked: bool = False

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """A SLURM client command (sacct, sacctmgr, scontrol, ...) against this cluster."""
        result = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}\n{self.logs()}")
        return result

    def logs(self) -> str:
        """The tail of every daemon log, for failure messages."""
        parts = []
        for log in sorted(self.path("log").glob("*.log")):
            parts.append(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:]))
        return "\n".join(parts)

    def start(self) -> Cluster:
        for sub in ("munge", "db", "state", "spool", "run", "log", "etc"):
            self.path(sub).mkdir(parents=True, exist_ok=True)
        values = {
            "DIR": str(self.root),
            "HOST": socket.gethostname(),
            "NODE": "node1",
            "USER": getpass.getuser(),
            "CPUS": str(os.cpu_count() or 1),
            "MEM_MB": str(memory_mb()),
            "PARTITION": self.partition,
            "CTLD_PORT": str(free_port()),
            "SLURMD_PORT": str(free_port()),
            "DBD_PORT": str(free_port()),
            "DB_PORT": str(free_port()),
            "DB_PASS": secrets.token_hex(8),
        }
        for name in ("slurm.conf", "slurmdbd.conf", "mariadb.cnf"):
            text = (HERE / name).read_text()
            for key, value in values.items():
                text = text.replace(f"@{key}@", value)
            target = self.path("etc", name)
            target.write_text(text)
            target.chmod(0o600)  # slurmdbd refuses a config readable by others (it holds the password)
        self.env = {**os.environ, "SLURM_CONF": str(self.path("etc", "slurm.conf"))}
        self.env.pop("SLURM_JOB_ID", None)
        self._start_munge()
        self._start_database(values["DB_PASS"])
        self._spawn("slurmdbd", ["slurmdbd", "-D"])
        self._wait(lambda: self.run("sacctmgr", "-n", "list", "cluster", check=False).returncode == 0, "slurmdbd")
        self.run("sacctmgr", "-i", "add", "cluster", "ganrepro")
        self.run("sacctmgr", "-i", "add", "account", self.account, "Description=tests", "Organization=ganrepro")
        self.run(
            "sacctmgr", "-i", "add", "user", values["USER"], f"Account={self.account}", f"DefaultAccount={self.account}"
        )
        self._spawn("slurmctld", ["slurmctld", "-D", "-i"])
        self._wait(lambda: self.run("scontrol", "ping", check=False).stdout.count("UP") > 0, "slurmctld")
        CONFIG_LINK.parent.mkdir(parents=True, exist_ok=True)
        if CONFIG_LINK.is_symlink() and not CONFIG_LINK.exists():
            CONFIG_LINK.unlink()
        CONFIG_LINK.symlink_to(self.path("etc"))
        self.linked = True
        self._spawn("slurmd", ["slurmd", "-D", "-N", values["NODE"]])
        self._wait(self._node_idle, "slurmd")
        return self

    def _start_munge(self) -> None:
        key = self.path("munge", "munge.key")
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        self.path("munge").chmod(0o700)
        self._spawn(
            "munged",
            [
                "munged",
                "-F",
                "--force",
                f"--key-file={key}",
                f"--socket={self.path('munge', 'munge.socket')}",
                f"--pid-file={self.path('run', 'munged.pid')}",
                f"--log-file={self.path('log', 'munged.log')}",
                f"--seed-file={self.path('munge', 'munge.seed')}",
            ],
        )
        self._wait(lambda: self.path("munge", "munge.socket").exists(), "munged")

    def _start_database(self, password: str) -> None:
        cnf = str(self.path("etc", "mariadb.cnf"))
        subprocess.run(
            [
                "mariadb-install-db",
                f"--defaults-file={cnf}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        self._spawn("mariadbd", ["mariadbd", f"--defaults-file={cnf}"])
        sock = str(self.path("run", "mariadb.sock"))
        sql = (
            f"CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{password}';"
            "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
        )
        self._wait(
            lambda: (
                subprocess.run(
                    ["mariadb", f"--socket={sock}", "-u", "root", "-e", "SELECT 1"], capture_output=True
                ).returncode
                == 0
            ),
            "mariadbd",
        )
        subprocess.run(["mariadb", f"--socket={sock}", "-u", "root", "-e", sql], check=True, capture_output=True)

    def _node_idle(self) -> bool:
        state = self.run("sinfo", "-h", "-o", "%T", "-p", self.partition, check=False).stdout.strip()
        return state in ("idle", "mixed")

    def _spawn(self, name: str, args: list[str]) -> None:
        out = open(self.path("log", f"{name}.out"), "wb")  # noqa: SIM115 (the daemon writes it for its life)
        self.processes[name] = subprocess.Popen(
            args, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def _wait(self, ready, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited ({proc.returncode}) while starting {what}\n{self.logs()}")
            if ready():
                return
            time.sleep(0.3)
        raise RuntimeError(f"{what} did not become ready in {timeout:.0f} s\n{self.logs()}")

    def stop(self) -> None:
        """Cancel what is left, then stop the daemons in reverse order (each by its own process id)."""
        if "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
            self.run("scancel", "--full", "--partition", self.partition, check=False)
        for name in reversed(list(self.processes)):
            proc = self.processes[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self.linked and CONFIG_LINK.is_symlink() and Path(os.readlink(CONFIG_LINK)) == self.path("etc"):
            CONFIG_LINK.unlink()
            self.linked = False
