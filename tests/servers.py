"""Real servers for tests: a process on a free loopback port, waited for, stopped afterwards."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

NORMBANK = str(Path(sys.executable).parent / "normbank")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`argv` run with `env`, its output in `log`; `url` is http://127.0.0.1:PORT."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self._log = log.open("w")
        self.proc = subprocess.Popen([a.replace("{port}", str(self.port)) for a in argv], env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def wait(self, path: str = "/healthz", timeout: float = 90, ok=(200,)) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}): {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + path, timeout=5).status_code in ok:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout}s: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def serve(database_url: str, env: dict[str, str], log: Path) -> Server:
    """`normbank serve` on a free port, ready."""
    return Server([NORMBANK, "serve", "--database", database_url, "--port", "{port}", "--log-level", "warning"],
                  env, log).wait()
