"""A real JupyterHub for tests: local system users, the hub and its proxy, the REST API,
and a small kernel client that runs a notebook's code cells through a user's server.

Used by tests/test_hub.py. Everything runs as root on 127.0.0.1 in a temporary folder:
its own config file, cookie secret, sqlite database and pid files, on free ports.
The single-user servers and their kernels run from the shared learner environment
built by `.ci/learner-env` (`$SOCKET_LAB_SHARED_VENV`, default /opt/socket-lab/venv),
each as its own unprivileged user (LocalProcessSpawner).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import datetime
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("SOCKET_LAB_SHARED_VENV", "/opt/socket-lab/venv"))
PROXY_COMMAND = "configurable-http-proxy"
# Written into the GECOS field of the users the test creates, with the creating process's
# pid, so that only those are ever deleted (also the ones an interrupted run left behind,
# once its process is gone: see delete_stale_users).
USER_MARK = "socket-lab hub test user"
SERVICE = "socket-lab-test"  # the service whose pre-issued token drives the hub


# ---------------------------------------------------------------- prerequisites

def missing_prerequisite() -> str | None:
    """Why the hub test cannot run on this machine, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (it creates local users and runs JupyterHub as root)"
    for tool in ("useradd", "userdel"):
        if shutil.which(tool) is None:
            return f"{tool} not found (the test creates local users)"
    if not (VENV / "bin" / "python").exists():
        return (f"the shared learner environment is missing at {VENV} "
                "(build it with: bash .ci/learner-env)")
    for script in ("jupyterhub", "jupyterhub-singleuser"):
        if not (VENV / "bin" / script).exists():
            return f"{script} is not installed in {VENV} (bash .ci/learner-env installs it)"
    if shutil.which(PROXY_COMMAND) is None:
        return ("configurable-http-proxy not found "
                "(npm install -g configurable-http-proxy)")
    try:
        import websocket  # noqa: F401  (websocket-client, a jupyter_server dependency)
    except ImportError:
        return "websocket-client is not installed (it comes with jupyter_server)"
    return None


# ---------------------------------------------------------------- local users

def local_user(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def user_names(*roles: str) -> list[str]:
    """Names for this run's users, such as sl-alice-1234: the pid keeps two test runs on
    one machine (two checkouts, or a developer's run during CI's) out of each other's way."""
    return [f"sl-{role}-{os.getpid()}" for role in roles]


def create_user(name: str) -> pwd.struct_passwd:
    """Create `name` with a home folder unless it exists; return its passwd entry."""
    if local_user(name) is None:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash",
                        "--comment", f"{USER_MARK} (pid {os.getpid()})", name],
                       check=True, capture_output=True, timeout=30)
    return pwd.getpwnam(name)


def _creator_pid(entry: pwd.struct_passwd) -> int | None:
    """The pid of the test process that created this user, or None if no test did."""
    prefix = f"{USER_MARK} (pid "
    if not (entry.pw_gecos.startswith(prefix) and entry.pw_gecos.endswith(")")):
        return None
    with contextlib.suppress(ValueError):
        return int(entry.pw_gecos[len(prefix):-1])
    return None


def delete_stale_users() -> list[str]:
    """Delete the users that test runs created and did not delete (their process is gone)."""
    stale = [e.pw_name for e in pwd.getpwall()
             if (pid := _creator_pid(e)) is not None and not psutil.pid_exists(pid)]
    for name in stale:
        delete_user(name)
    return stale


def kill_user_processes(name: str, timeout: float = 10.0) -> list[int]:
    """SIGKILL every process owned by local user `name`; return their pids."""
    entry = local_user(name)
    if entry is None:
        return []
    procs = [p for p in psutil.process_iter(["uids"])
             if p.info["uids"] and p.info["uids"].real == entry.pw_uid]
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(procs, timeout=timeout)
    return [p.pid for p in procs]


def delete_user(name: str) -> None:
    """Delete `name` and its home, but only if a test run created it (GECOS mark)."""
    entry = local_user(name)
    if entry is None or _creator_pid(entry) is None:
        return
    kill_user_processes(name)
    remove_user_temp_files(entry.pw_uid)
    subprocess.run(["userdel", "--remove", name], capture_output=True, timeout=30)
    if local_user(name) is not None:
        raise RuntimeError(f"userdel could not delete {name}")


def remove_user_temp_files(uid: int) -> None:
    """Remove what the user left at the top of the shared temporary folders (such as
    Java's /tmp/hsperfdata_NAME); userdel --remove only removes the home folder."""
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_uid != uid:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)


def hand_out_notebooks(user: pwd.struct_passwd) -> Path:
    """Copy the course's notebooks/ (with programs/) into the user's home, owned by them."""
    target = Path(user.pw_dir) / "notebooks"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(ROOT / "notebooks", target,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for folder, dirs, files in os.walk(target):
        for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
            os.chown(name, user.pw_uid, user.pw_gid)
    return target


# ---------------------------------------------------------------- ports

def free_ports(count: int) -> list[int]:
    """`count` distinct ports that were free a moment ago (bind port 0, read, close)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


# ---------------------------------------------------------------- the hub

CONFIG = """\
# Written by tests/hubsupport.py for one test run.
c = get_config()  # noqa
c.JupyterHub.bind_url = "http://127.0.0.1:{proxy_port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{proxy_command!r}]
c.ConfigurableHTTPProxy.pid_file = {proxy_pid!r}
c.JupyterHub.pid_file = {hub_pid!r}
c.JupyterHub.cookie_secret_file = {cookie_secret!r}
c.JupyterHub.db_url = "sqlite:///{db}"
c.JupyterHub.log_level = "INFO"

# Nobody logs in: the test drives the hub with a pre-issued service token only.
c.JupyterHub.authenticator_class = "null"
c.Authenticator.allowed_users = {users!r}
c.JupyterHub.services = [{{"name": {service!r}, "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{
    "name": {service!r},
    "scopes": ["admin:users", "admin:servers", "admin:server_state", "access:servers"],
    "services": [{service!r}],
}}]

# Each learner's server runs as that local user, from the shared environment.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 60
# kernels on Unix sockets: a kernel's TCP ports are picked, let go and bound a moment
# later, and the suite's other tests run beside this one and may take one in between
c.Spawner.args = ["--KernelManager.transport=ipc"]
# POST and DELETE .../server answer at once (202) and the test polls the user model,
# so that both learners' servers start (and stop) in parallel
c.JupyterHub.tornado_settings = {{"slow_spawn_timeout": 0.1, "slow_stop_timeout": 0.1}}
c.Spawner.http_timeout = 60
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
"""


class HubError(RuntimeError):
    pass


@dataclasses.dataclass
class Hub:
    """A JupyterHub with its proxy, started by `start()` and stopped by `stop()`."""

    workdir: Path
    users: list[str]
    venv: Path = VENV
    token: str = dataclasses.field(default_factory=lambda: secrets.token_hex(32))
    proc: subprocess.Popen | None = None
    url: str = ""
    _log_start: int = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / "jupyterhub.log"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- start and stop

    def start(self, timeout: float = 60.0, attempts: int = 4) -> None:
        """Start hub and proxy on free ports; retry with new ports on a collision."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(attempts):
            proxy_port, hub_port, api_port = free_ports(3)
            self._write_config(proxy_port, hub_port, api_port)
            self.url = f"http://127.0.0.1:{proxy_port}"
            env = dict(os.environ)
            # the spawned servers inherit PATH: the shared environment first, then the
            # system (no tool folder of root's that the learners could not read)
            proxy_dir = os.path.dirname(shutil.which(PROXY_COMMAND) or "/usr/bin/x")
            env["PATH"] = os.pathsep.join(dict.fromkeys(
                [str(self.venv / "bin"), proxy_dir,
                 "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]))
            for key in ("PYTHONPATH", "VIRTUAL_ENV", "CONDA_DEFAULT_ENV", "CONDA_ROOT",
                        "JUPYTER_PATH", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR"):
                env.pop(key, None)
            with open(self.log_path, "ab") as log:
                log.write(f"\n=== attempt {attempt + 1}: ports proxy {proxy_port}, "
                          f"hub {hub_port}, proxy api {api_port}\n".encode())
                log.flush()
                self._log_start = log.tell()
                self.proc = subprocess.Popen(
                    [str(self.venv / "bin" / "jupyterhub"), "-f", str(self.config_path)],
                    cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            state = self._wait_ready(timeout)
            if state == "ready":
                return
            tail = self.log_tail()
            self._kill_hub_and_proxy()
            if state != "collision":
                raise HubError(f"JupyterHub did not start in {timeout:.0f} s:\n{tail}")
        raise HubError(f"JupyterHub found no free ports in {attempts} attempts:\n"
                       f"{self.log_tail()}")

    @property
    def config_path(self) -> Path:
        return self.workdir / "jupyterhub_config.py"

    def _write_config(self, proxy_port, hub_port, api_port) -> None:
        for stale in ("jupyterhub.pid", "proxy.pid", "jupyterhub.sqlite"):
            (self.workdir / stale).unlink(missing_ok=True)
        self.config_path.write_text(CONFIG.format(
            proxy_port=proxy_port, hub_port=hub_port, api_port=api_port,
            proxy_command=shutil.which(PROXY_COMMAND) or PROXY_COMMAND,
            proxy_pid=str(self.workdir / "proxy.pid"),
            hub_pid=str(self.workdir / "jupyterhub.pid"),
            cookie_secret=str(self.workdir / "jupyterhub_cookie_secret"),
            db=self.workdir / "jupyterhub.sqlite",
            users=set(self.users), token=self.token, service=SERVICE,
            singleuser=str(self.venv / "bin" / "jupyterhub-singleuser")))

    def _attempt_log(self) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_start)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def _wait_ready(self, timeout: float) -> str:
        """"ready" once this hub answers our token through the proxy; "collision" when
        the hub or the proxy could not bind a port (the proxy then keeps running without
        its public port, so the log is watched); "failed" if it exited or timed out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self._attempt_log()
            if "EADDRINUSE" in log or "Address already in use" in log:
                return "collision"
            if self.proc.poll() is not None:
                return "failed"
            try:
                # an authenticated call: a stranger on the port would not know the token
                if self.api("GET", "/hub/api/user", timeout=2).get("name") == SERVICE:
                    return "ready"
            except (OSError, ValueError, HubError):
                pass
            time.sleep(0.2)
        return "failed"

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every server, then the hub (which stops its proxy); kill what remains."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.stop_servers(self.users, timeout=timeout / 2)
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        self._kill_hub_and_proxy()

    def _kill_hub_and_proxy(self) -> None:
        proxy_pid = _read_pid(self.workdir / "proxy.pid")
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(10)
        if proxy_pid and _is_proxy(proxy_pid):
            with contextlib.suppress(psutil.Error):
                psutil.Process(proxy_pid).kill()
                psutil.Process(proxy_pid).wait(10)

    # -- REST API

    def api(self, method: str, path: str, body=None, timeout: float = 10.0):
        """Call the hub (or a user's server) through the proxy with the service token."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Authorization": f"token {self.token}",
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            raise HubError(f"{method} {path}: HTTP {exc.code} "
                           f"{exc.read()[:500].decode(errors='replace')}") from None
        return json.loads(text) if text.strip() else None

    def user_model(self, name: str) -> dict:
        return self.api("GET", f"/hub/api/users/{name}")

    def request_server(self, name: str) -> None:
        """Ask the hub to spawn `name`'s server (returns before it is ready)."""
        self.api("POST", f"/hub/api/users/{name}/server", timeout=30)

    def wait_server(self, name: str, timeout: float = 60.0) -> dict:
        """Return `name`'s server model once the hub says it is ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = self.user_model(name).get("servers", {}).get("")
            if server and server.get("ready"):
                return server
            if self.proc.poll() is not None or not server:
                break  # the hub died, or the spawn failed and was cleared
            time.sleep(0.2)
        raise HubError(f"{name}'s server was not ready in {timeout:.0f} s:\n"
                       f"{self.log_tail()}")

    def start_servers(self, names, timeout: float = 60.0) -> dict[str, dict]:
        """Spawn the servers of `names` at once; return their models when all are ready."""
        for name in names:
            self.request_server(name)
        deadline = time.monotonic() + timeout
        return {name: self.wait_server(name, max(1.0, deadline - time.monotonic()))
                for name in names}

    def stop_server(self, name: str, timeout: float = 30.0) -> None:
        self.api("DELETE", f"/hub/api/users/{name}/server", timeout=timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.user_model(name).get("servers"):
                return
            time.sleep(0.2)
        raise HubError(f"{name}'s server did not stop in {timeout:.0f} s")

    def stop_servers(self, names, timeout: float = 30.0) -> None:
        """Stop the servers of `names` at once (each DELETE waits for its stop)."""
        with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
            for done in [pool.submit(self.stop_server, name, timeout) for name in names]:
                done.result()

    def kernel(self, user: str, path: str = "notebooks") -> "Kernel":
        """Start a python3 kernel in `user`'s server with its cwd at `path` (from home)."""
        model = self.api("POST", f"/user/{user}/api/kernels",
                         {"name": "python3", "path": path}, timeout=60)
        return Kernel(self, user, model["id"])


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _is_proxy(pid: int) -> bool:
    try:
        return any("configurable-http-proxy" in part
                   for part in psutil.Process(pid).cmdline())
    except psutil.Error:
        return False


# ---------------------------------------------------------------- a kernel client

@dataclasses.dataclass
class CellResult:
    index: int               # among the notebook's code cells, from 0
    status: str              # "ok", "error" or "timeout"
    error: str = ""          # "ename: evalue" for an error
    result: str = ""         # text/plain of the execute_result, if any
    seconds: float = 0.0


class Kernel:
    """One kernel in a user's server, driven over its websocket through the proxy."""

    def __init__(self, hub: Hub, user: str, kernel_id: str):
        import websocket

        self.hub, self.user, self.id = hub, user, kernel_id
        self.session = uuid.uuid4().hex
        ws_url = hub.url.replace("http://", "ws://", 1)
        self.ws = websocket.create_connection(
            f"{ws_url}/user/{user}/api/kernels/{kernel_id}/channels"
            f"?session_id={self.session}",
            header=[f"Authorization: token {hub.token}"], timeout=30)

    def execute(self, code: str, timeout: float = 60.0, index: int = -1) -> CellResult:
        """Run `code`; wait for its reply and for the kernel to go idle (bounded)."""
        import websocket

        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request",
                       "username": self.user, "session": self.session,
                       "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                       "version": "5.3"},
            "parent_header": {}, "metadata": {}, "buffers": [], "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": True,
                        "user_expressions": {}, "allow_stdin": False,
                        "stop_on_error": True},
        }))
        started = time.monotonic()
        deadline = started + timeout
        result = CellResult(index, "ok")
        replied = idle = False
        while not (replied and idle):
            left = deadline - time.monotonic()
            if left <= 0:
                self.interrupt()
                result.status, result.error = "timeout", f"no reply in {timeout:.0f} s"
                break
            self.ws.settimeout(left)
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "execute_reply":
                replied = True
                if content.get("status") != "ok":
                    result.status = "error"
                    result.error = result.error or (
                        f"{content.get('ename')}: {content.get('evalue')}")
            elif kind == "error":
                result.status = "error"
                result.error = f"{content.get('ename')}: {content.get('evalue')}"
            elif kind == "execute_result":
                result.result = content.get("data", {}).get("text/plain", "")
            elif kind == "status" and content.get("execution_state") == "idle":
                idle = True
        result.seconds = time.monotonic() - started
        return result

    def interrupt(self) -> None:
        with contextlib.suppress(Exception):
            self.hub.api("POST", f"/user/{self.user}/api/kernels/{self.id}/interrupt")

    def info(self) -> dict:
        return self.hub.api("GET", f"/user/{self.user}/api/kernels/{self.id}")

    def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()
        with contextlib.suppress(Exception):
            self.hub.api("DELETE", f"/user/{self.user}/api/kernels/{self.id}", timeout=30)


def code_cells(notebook: Path) -> list[tuple[str, set[str]]]:
    """The notebook's code cells in order: (source, tags)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cells = []
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        cells.append((source, set(cell.get("metadata", {}).get("tags", []))))
    return cells


def run_notebook(kernel: Kernel, notebook: Path, cell_timeout: float = 60.0
                 ) -> tuple[list[CellResult], list[str]]:
    """Run every code cell in order; return the results and the failures, as text.

    A cell tagged `raises-exception` may raise; any other error or a timeout fails.
    """
    results, failures = [], []
    for index, (source, tags) in enumerate(code_cells(notebook)):
        outcome = kernel.execute(source, timeout=cell_timeout, index=index)
        results.append(outcome)
        if outcome.status == "timeout" or (
                outcome.status == "error" and "raises-exception" not in tags):
            failures.append(f"{notebook.name} cell {index} ({kernel.user}): "
                            f"{outcome.status}: {outcome.error}")
    return results, failures


def user_processes(name: str) -> list[psutil.Process]:
    entry = local_user(name)
    if entry is None:
        return []
    return [p for p in psutil.process_iter(["uids"])
            if p.info["uids"] and p.info["uids"].real == entry.pw_uid]


if __name__ == "__main__":  # pragma: no cover - manual check of the prerequisites
    print(missing_prerequisite() or "ready", file=sys.stderr)
