"""A throwaway single-node SLURM cluster on loopback, for the tests.

:class:`LoopbackSlurm` writes its own ``slurm.conf``, ``gres.conf`` and munge key into a
fresh directory, starts ``munged``, ``slurmctld`` and ``slurmd`` in the foreground from
that configuration (``-f``), waits until the node accepts jobs, and on :meth:`stop`
cancels its jobs and kills the daemons it started (and their descendants, e.g. job
steps) by PID. Nothing system-wide is read or touched: ports are free ones, state,
spool, logs, PID files and the munge socket all live in the directory. No cgroups
(``proctrack/linuxproc``, ``task/none``), no accounting (``sacct`` does not work, as on
clusters without slurmdbd), two fake GPUs (GRES without device files) so that GPU
requests can be scheduled and inspected.

Needs root (slurmd launches jobs) and the Debian packages in :data:`PACKAGES`
(envs/debian-test-packages.txt, installed by ``make test-deps``); :func:`missing_reason`
says what is missing. Every client call runs behind the network guard
(:mod:`cnnpractice.netguard`), and so do the jobs, which inherit the environment.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from cnnpractice import netguard

PACKAGES = ("munge", "slurmctld", "slurmd", "slurm-client")
FAKE_GPU_FILES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/urandom")
BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "srun")


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if not (shutil.which(b) or Path("/usr/sbin", b).exists())]


def missing_reason() -> str | None:
    """Why the cluster cannot start here (None: it can). The packages are installed by the
    setup step (`make test-deps`, envs/debian-test-packages.txt), never by a test."""
    if missing_binaries():
        return (
            f"SLURM binaries missing ({', '.join(missing_binaries())}): install {' '.join(PACKAGES)} "
            "(as root: make test-deps)"
        )
    if os.geteuid() != 0:
        return "slurmd runs jobs as root here: the SLURM test needs root"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children() -> dict[int, list[int]]:
    """Parent PID -> child PIDs of every process, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    tree, out, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is as good as gone
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


class LoopbackSlurm:
    """A single-node SLURM cluster rooted at ``root`` (see the module docstring).

    ``cpus`` and ``mem_mb`` are what the node advertises (``config_overrides``: may
    exceed the real machine). Use :attr:`env` for every SLURM client call.
    """

    def __init__(self, root: str | Path, cpus: int = 4, mem_mb: int = 8000, gpus: int = 1, partition: str = "main"):
        self.root = Path(root)
        self.cpus, self.mem_mb, self.gpus, self.partition = cpus, mem_mb, gpus, partition
        self.node = socket.gethostname().split(".")[0]
        self.procs: dict[str, subprocess.Popen] = {}
        self.conf = self.root / "etc" / "slurm.conf"
        # Client commands find our slurm.conf through SLURM_CONF, also inside the jobs
        # (sbatch --export=ALL). NB: snakemake-executor-plugin-slurm-jobstep >= 0.6 drops
        # SLURM_CONF before its srun (plugin issue #164); 0.4.0, pinned, keeps it.
        self.env = netguard.environment(dict(os.environ, SLURM_CONF=str(self.conf)))
        for var in [v for v in self.env if v.startswith(("SLURM_", "SBATCH_", "SRUN_"))]:
            if var != "SLURM_CONF":
                del self.env[var]

    # -- setup ---------------------------------------------------------------------
    def _write_config(self) -> None:
        for sub in ("etc", "state", "spool", "log", "run", "munge"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root / "munge", 0o711)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o600)
        r = self.root
        self.munge_socket = r / "munge" / "munge.socket"
        self.conf.write_text(f"""\
ClusterName=cnnpracticetest
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SwitchType=switch/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
GresTypes=gpu
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=300
KillWait=5
InactiveLimit=0
Waittime=0
SchedulerParameters=sched_interval=2
PlugStackConfig={r}/etc/plugstack.conf
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.mem_mb} Gres=gpu:{self.gpus} State=UNKNOWN
PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
""")
        # GPU GRES need device files: character devices that every machine has stand in
        (r / "etc" / "gres.conf").write_text(
            "".join(f"NodeName={self.node} Name=gpu File={dev}\n" for dev in FAKE_GPU_FILES[: self.gpus])
        )
        (r / "etc" / "plugstack.conf").write_text("")

    def _start(self, name: str, cmd: list[str]) -> None:
        log = open(self.root / "log" / f"{name}.out", "w")
        self.procs[name] = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        log.close()

    def _wait(self, what: str, check, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} while waiting for {what}:\n{self.logs()}")
            if check():
                return
            time.sleep(0.2)
        raise TimeoutError(f"{what} not ready after {timeout} s:\n{self.logs()}")

    def _ok(self, *cmd: str) -> bool:
        return subprocess.run(cmd, env=self.env, capture_output=True).returncode == 0

    def start(self, timeout: float = 60) -> LoopbackSlurm:
        self._write_config()
        m = self.root / "munge"
        self._start(
            "munged",
            [
                "munged",
                "--foreground",
                "--force",
                f"--socket={self.munge_socket}",
                f"--key-file={m / 'munge.key'}",
                f"--pid-file={m / 'munged.pid'}",
                f"--seed-file={m / 'munged.seed'}",
                f"--log-file={m / 'munged.log'}",
            ],
        )
        self._wait(
            "munged",
            lambda: (
                self.munge_socket.exists()
                and self._ok("sh", "-c", f"munge -n -S {self.munge_socket} | unmunge -S {self.munge_socket}")
            ),
            timeout,
        )
        self._start("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf)])
        self._wait("slurmctld", lambda: self._ok("scontrol", "ping"), timeout)
        self._start("slurmd", ["slurmd", "-D", "-f", str(self.conf), "-N", self.node])
        self._wait("the node", self.node_idle, timeout)
        return self

    def node_idle(self) -> bool:
        out = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%T"], env=self.env, capture_output=True, text=True
        ).stdout.split()
        return out == ["idle"]

    # -- queries -------------------------------------------------------------------
    def run(self, *cmd: str, check: bool = True, timeout: float = 60) -> str:
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{cmd} failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
        return proc.stdout

    def job(self, jobid: str | int) -> dict[str, str]:
        """``scontrol show job`` as a dict (finished jobs are kept MinJobAge seconds)."""
        out = self.run("scontrol", "show", "job", "-o", str(jobid))
        fields = {}
        for token in out.split():
            key, _, value = token.partition("=")
            fields[key] = value
        return fields

    def logs(self) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*")) + [self.root / "munge" / "munged.log"]:
            if path.is_file():
                parts.append(f"--- {path.name}\n{path.read_text()[-3000:]}")
        return "\n".join(parts)

    # -- teardown ------------------------------------------------------------------
    def pids(self) -> list[int]:
        """Our daemons and everything they started that is still running."""
        pids = []
        for proc in self.procs.values():
            if proc.poll() is None:
                pids.append(proc.pid)
                pids.extend(descendants(proc.pid))
        return pids

    def stop(self, timeout: float = 20) -> list[int]:
        """Cancel our jobs, then end our daemons and whatever they started (job steps and
        the jobs' processes, which outlive slurmd), by PID. Returns those PIDs."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            subprocess.run(
                ["scancel", "--full", "--partition", self.partition], env=self.env, capture_output=True, timeout=30
            )
        ours = self.pids()
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        for pid in ours:
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return ours

    def running(self, pids: list[int]) -> list[int]:
        return [pid for pid in pids if _alive(pid)]
