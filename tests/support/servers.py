"""Real local servers for tests and benchmarks: free ports, nginx, delayed origins.

Every server binds to loopback only and is stopped by its own process id.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

NGINX_BINARY = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on `host` a moment ago."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float = 15.0) -> None:
    """Block until a TCP connect to host:port succeeds, or raise TimeoutError."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listens on {host}:{port} after {timeout_s} s"
                ) from None
            time.sleep(0.05)


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """Stop a server by its own pid: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout_s)


@dataclass
class Nginx:
    port: int
    root: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


NGINX_CONFIG = """
daemon off;
master_process off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    default_type application/octet-stream;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        {extra_listen}
        root {root};
        location / {{ }}
        location = /redirect-loop {{ return 302 /redirect-loop; }}
        location = /redirect-once {{ return 302 /small.bin; }}
        location = /status-500 {{ return 500; }}
    }}
}}
"""


@contextlib.contextmanager
def run_nginx(work: Path, *, ipv6: bool = False) -> Iterator[Nginx]:
    """Run nginx on a free loopback port serving files from `work/root`.

    The root contains `small.bin` (1 KiB) and `large.bin` (1 MiB).
    """
    root = work / "root"
    root.mkdir(parents=True, exist_ok=True)
    (root / "small.bin").write_bytes(os.urandom(1024))
    (root / "large.bin").write_bytes(os.urandom(1024 * 1024))
    port = free_port()
    extra_listen = f"listen [::1]:{port};" if ipv6 else ""
    config = work / "nginx.conf"
    config.write_text(
        NGINX_CONFIG.format(work=work, port=port, root=root, extra_listen=extra_listen)
    )
    process = subprocess.Popen(
        [
            NGINX_BINARY,
            "-c",
            str(config),
            "-p",
            str(work),
            "-e",
            str(work / "error.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port("127.0.0.1", port)
        yield Nginx(port=port, root=root)
    finally:
        stop_process(process)
