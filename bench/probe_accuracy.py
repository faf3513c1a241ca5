"""Compare beamwatch's and blackbox_exporter's phase timings with curl's.

    /work/venv/bin/python bench/probe_accuracy.py --repetitions 20

Each case runs curl, beamwatch and Prometheus blackbox_exporter one after
another, in alternating order, against the same URL, N times. beamwatch runs
twice: as configured by default, stamping bytes where its event loop handles
them, which is what curl and blackbox_exporter do in their own processes,
and as `bw-kernel`, with kernel arrival stamps. On nginx a fourth
reference, `spin`, polls its socket without sleeping and so reads each byte
as it arrives. Per phase it
prints the median of the paired differences (prober minus curl) and the
median of their absolute values. curl's `-w` timings are the reference:
`time_starttransfer` for TTFB, `time_connect - time_namelookup` for TCP
connect, `time_appconnect - time_connect` for TLS and `time_total` for
total. blackbox_exporter's `probe_http_duration_seconds` phases map to them
as connect, tls, resolve+connect+tls+processing (TTFB) and the sum of all
phases (total). All three open a fresh connection for every request and skip
certificate checks on the self-signed TLS origin.

The origins and blackbox_exporter run in their own processes, so beamwatch's
event loop never serves the requests it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aiohttp import web  # noqa: E402

from collector.demo import create_demo_app  # noqa: E402
from probe.http import ProbeClient  # noqa: E402
from probe.models import Target  # noqa: E402
from tests.probe.certs import make_self_signed  # noqa: E402
from tests.support.servers import (  # noqa: E402
    free_port,
    run_nginx,
    stop_process,
    wait_for_port,
)

PHASES = ("connect_ms", "tls_ms", "tls_from_hello_ms", "ttfb_ms", "total_ms")
# A prober's own value for a reference phase that only curl splits further.
PROBER_PHASE = {"tls_from_hello_ms": "tls_ms"}
CURL_FORMAT = (
    "%{time_namelookup} %{time_connect} %{time_appconnect}"
    " %{time_starttransfer} %{time_total}"
)
Timings = dict[str, float | None]
BLACKBOX_BINARY = "/usr/bin/prometheus-blackbox-exporter"
BLACKBOX_CONFIG = """
modules:
  http_fresh:
    prober: http
    timeout: 10s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      tls_config:
        insecure_skip_verify: true
"""


# asyncio's timers wake through epoll, whose timeout has millisecond
# granularity, so a plain asyncio.sleep(0.3) ends up to about 1 ms late, and
# by a different amount for each request. That jitter lands in the paired
# differences although it belongs to neither prober. The origin therefore
# sleeps until SPIN_MARGIN_S before its deadline and spins on the clock for
# the rest; it serves one request at a time here, so the spin delays no other request.
SPIN_MARGIN_S = 0.003


async def wait_precisely(delay_s: float) -> None:
    deadline = time.perf_counter() + delay_s
    if delay_s > SPIN_MARGIN_S:
        await asyncio.sleep(delay_s - SPIN_MARGIN_S)
    while time.perf_counter() < deadline:
        pass


async def header_delayed(request: web.Request) -> web.Response:
    """Hold the headers for `ms` milliseconds, then send 1 KiB."""
    await wait_precisely(int(request.match_info["ms"]) / 1000)
    return web.Response(body=b"b" * 1024, content_type="application/octet-stream")


async def body_delayed(request: web.Request) -> web.StreamResponse:
    """Send the headers at once, then the 1 KiB body after `ms` milliseconds."""
    delay_ms = int(request.match_info["ms"])
    response = web.StreamResponse()
    response.content_length = 1024
    await response.prepare(request)
    await wait_precisely(delay_ms / 1000)
    await response.write(b"b" * 1024)
    await response.write_eof()
    return response


def serve_origin(port: int, cert: str | None, key: str | None) -> None:
    app = create_demo_app()
    app.router.add_get("/body-delay/{ms}", body_delayed)
    app.router.add_get("/header-delay/{ms}", header_delayed)
    context = None
    if cert is not None and key is not None:
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    web.run_app(
        app,
        host="127.0.0.1",
        port=port,
        ssl_context=context,
        print=None,
        access_log=None,
    )


@contextlib.contextmanager
def run_origin(tls_dir: Path | None = None) -> Iterator[str]:
    """Run the aiohttp origin in a child process; yield its base URL."""
    port = free_port()
    cert = key = None
    if tls_dir is not None:
        files = make_self_signed(tls_dir)
        cert, key = str(files.cert), str(files.key)
    process = multiprocessing.Process(
        target=serve_origin, args=(port, cert, key), daemon=True
    )
    process.start()
    try:
        wait_for_port("127.0.0.1", port)
        scheme = "https" if tls_dir is not None else "http"
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.join(10)


def spin_timings(url: str) -> Timings:
    """Time a plain-HTTP GET with a client that polls without ever sleeping.

    It reads a byte within microseconds of its arrival, with no scheduler
    wake-up in between, so it shows where the true arrival times lie. It
    burns a CPU for the whole request and is only a benchmark reference.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None or parts.port is None:
        return dict.fromkeys(PHASES)
    request = (
        f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    started = time.perf_counter()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    with sock:
        with contextlib.suppress(BlockingIOError):
            sock.connect((parts.hostname, parts.port))
        while not select.select([], [sock], [], 0)[1]:
            pass
        connected = time.perf_counter()
        sock.send(request)
        first_byte = None
        while True:
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            now = time.perf_counter()
            if first_byte is None:
                first_byte = now
            if not data:
                break
            last_byte = now
    return {
        "connect_ms": (connected - started) * 1000,
        "tls_ms": None,
        "ttfb_ms": (first_byte - started) * 1000,
        "total_ms": (last_byte - started) * 1000,
    }


def trace_stamp_s(trace: str, marker: str) -> float | None:
    """Return the --trace-time clock of the first trace line holding `marker`."""
    for line in trace.splitlines():
        if marker in line:
            hours, minutes, seconds = line.split(" ", 1)[0].split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return None


def curl_timings(url: str) -> Timings:
    tls = url.startswith("https:")
    # On TLS, -v --trace-time shows when curl sent its ClientHello. curl
    # 7.88 with OpenSSL 3 spends 2 to 3 ms after the TCP connect building
    # its TLS context before that, and counts it in time_appconnect.
    trace = ["-v", "--trace-time"] if tls else []
    result = subprocess.run(
        ["curl", "-sk", *trace, "-o", "/dev/null", "-w", CURL_FORMAT, url],
        check=True,
        capture_output=True,
        text=True,
    )
    numbers = map(float, result.stdout.split())
    lookup, connect, appconnect, starttransfer, total = numbers
    timings: Timings = {
        "connect_ms": (connect - lookup) * 1000,
        "tls_ms": (appconnect - connect) * 1000 if appconnect > 0 else None,
        "tls_from_hello_ms": None,
        "ttfb_ms": starttransfer * 1000,
        "total_ms": total * 1000,
    }
    connected = trace_stamp_s(result.stderr, "* Connected to")
    hello = trace_stamp_s(result.stderr, "Client hello")
    tls_ms = timings["tls_ms"]
    if tls_ms is not None and connected is not None and hello is not None:
        timings["tls_from_hello_ms"] = tls_ms - (hello - connected) * 1000
    return timings


class BeamwatchProber:
    """Runs ProbeClient in this process on its own event loop."""

    def __init__(
        self, loop_kind: str = "asyncio", *, kernel_stamps: bool = False
    ) -> None:
        if loop_kind == "uvloop":
            import uvloop

            self._loop = uvloop.new_event_loop()
        else:
            self._loop = asyncio.new_event_loop()
        self._client = ProbeClient(kernel_stamps=kernel_stamps)

    def __call__(self, url: str) -> Timings:
        target = Target(name="bench", provider="bench", url=url, verify_tls=False)
        measurement = self._loop.run_until_complete(self._client.probe(target))
        if not measurement.ok:
            raise RuntimeError(f"beamwatch probe of {url} failed: {measurement.error}")
        return {
            phase: getattr(measurement, phase)
            for phase in PHASES
            if phase not in PROBER_PHASE
        }

    def close(self) -> None:
        self._loop.run_until_complete(self._client.close())
        self._loop.close()


@contextlib.contextmanager
def run_blackbox(work: Path) -> Iterator[str]:
    """Run blackbox_exporter on a free loopback port; yield its base URL."""
    work.mkdir(parents=True, exist_ok=True)
    config = work / "blackbox.yml"
    config.write_text(BLACKBOX_CONFIG)
    port = free_port()
    process = subprocess.Popen(
        [
            BLACKBOX_BINARY,
            f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


def parse_blackbox_metrics(text: str) -> dict[str, float]:
    """Return the probe's phase durations in ms and probe_success."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith('probe_http_duration_seconds{phase="'):
            phase = line.split('"')[1]
            values[phase] = float(line.rsplit(" ", 1)[1]) * 1000
        elif line.startswith("probe_success "):
            values["success"] = float(line.split()[1])
    return values


class BlackboxProber:
    """Asks a running blackbox_exporter to probe a URL and reads its phases."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url

    def __call__(self, url: str) -> Timings:
        query = urllib.parse.urlencode({"target": url, "module": "http_fresh"})
        with urllib.request.urlopen(f"{self._base_url}/probe?{query}") as reply:
            values = parse_blackbox_metrics(reply.read().decode())
        if values.get("success") != 1.0:
            raise RuntimeError(f"blackbox_exporter probe of {url} failed")
        ttfb = sum(values[phase] for phase in ("resolve", "connect", "tls"))
        ttfb += values["processing"]
        return {
            "connect_ms": values["connect"],
            "tls_ms": values["tls"] if url.startswith("https:") else None,
            "ttfb_ms": ttfb,
            "total_ms": ttfb + values["transfer"],
        }


@dataclass
class Case:
    name: str
    url: str
    # The spinning client occupies a whole CPU for the request, which on a small
    # machine slows an origin that has to wake up after a delay.
    spin_reference: bool = False


def compare(
    case: Case,
    probers: dict[str, Callable[[str], Timings]],
    repetitions: int,
) -> dict[str, dict[str, list[float]]]:
    """Return, per prober and phase, the paired differences from curl in ms."""
    differences: dict[str, dict[str, list[float]]] = {
        name: {phase: [] for phase in PHASES} for name in probers
    }
    # One unmeasured round warms the page cache, the origin and the prober.
    curl_timings(case.url)
    for prober in probers.values():
        prober(case.url)
    for repetition in range(repetitions):
        names = list(probers)
        if repetition % 2:
            names.reverse()
        reference = curl_timings(case.url)
        for name in names:
            measured = probers[name](case.url)
            for phase in PHASES:
                ours = measured.get(PROBER_PHASE.get(phase, phase))
                theirs = reference[phase]
                if ours is not None and theirs is not None:
                    differences[name][phase].append(ours - theirs)
    return differences


def report(case: Case, differences: dict[str, dict[str, list[float]]]) -> None:
    """Print each prober's differences from curl, then beamwatch's from blackbox."""
    rows = dict(differences)
    ours, theirs = differences.get("beamwatch"), differences.get("blackbox")
    if ours is not None and theirs is not None:
        # Both differ from the same curl run, so curl cancels out.
        rows["bw-blackbox"] = {
            phase: [a - b for a, b in zip(ours[phase], theirs[phase], strict=True)]
            for phase in PHASES
            if len(ours[phase]) == len(theirs[phase])
        }
    print(f"\n{case.name}: {case.url}")
    print(f"  {'prober':<12}{'phase':<12}{'n':>4}{'median d':>11}{'median |d|':>12}")
    for prober, by_phase in rows.items():
        for phase, values in by_phase.items():
            if not values:
                continue
            median = statistics.median(values)
            median_abs = statistics.median(abs(value) for value in values)
            print(
                f"  {prober:<12}{phase:<12}{len(values):>4}"
                f"{median:>+9.3f}ms{median_abs:>10.3f}ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repetitions", type=int, default=20)
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="event loop for beamwatch; uvloop bypasses the socket stamps",
    )
    args = parser.parse_args()

    beamwatch = BeamwatchProber(args.loop)
    kernel_stamped = BeamwatchProber(args.loop, kernel_stamps=True)
    with (
        tempfile.TemporaryDirectory(prefix="beamwatch-bench-") as work,
        run_nginx(Path(work) / "nginx") as nginx,
        run_origin() as plain_origin,
        run_origin(Path(work) / "tls") as tls_origin,
        run_blackbox(Path(work) / "blackbox") as blackbox_url,
    ):
        probers: dict[str, Callable[[str], Timings]] = {
            "beamwatch": beamwatch,
            "bw-kernel": kernel_stamped,
            "blackbox": BlackboxProber(blackbox_url),
            "spin": spin_timings,
        }
        cases = [
            Case("nginx, plain HTTP", f"{nginx.base_url}/small.bin", True),
            Case("aiohttp, TLS", f"{tls_origin}/delay/0"),
            Case("aiohttp, header delay 300 ms", f"{plain_origin}/header-delay/300"),
            Case("aiohttp, body delay 200 ms", f"{plain_origin}/body-delay/200"),
        ]
        print(
            f"{args.repetitions} repetitions per case, beamwatch on {args.loop};"
            " d = prober - curl, and beamwatch - blackbox for bw-blackbox"
        )
        print(
            f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        for case in cases:
            chosen = {
                name: prober
                for name, prober in probers.items()
                if name != "spin" or case.spin_reference
            }
            report(case, compare(case, chosen, args.repetitions))
        print(f"\nload average at end: {os.getloadavg()[0]:.1f}")
    beamwatch.close()
    kernel_stamped.close()


if __name__ == "__main__":
    main()
