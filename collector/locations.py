"""Checks of the places a config file names: store files and the InfluxDB URL.

Each check raises ValueError with a message naming the bad part and giving an
example, so a pydantic validator can pass it on unchanged.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from yarl import URL

# RFC 1123 host name labels, plus "_", which Docker service names may contain.
HOST_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
INFLUX_URL_EXAMPLE = (
    "http://127.0.0.1:8086, or https://influx.example.com/influx behind a proxy"
)


def check_host(host: str) -> bool:
    """Return whether `host` is an IP address or a DNS host name."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.removesuffix(".").split(".")
    if all(label.isdigit() for label in labels):
        # Digits and dots only: a mistyped IPv4 address, not a name.
        return False
    return len(host) <= 253 and all(HOST_LABEL.match(label) for label in labels)


def check_influx_url(value: str) -> str:
    """Return the http(s) base URL `value` without a final "/", or raise ValueError.

    A path is kept as a prefix for reverse proxies. Beamwatch appends /write,
    /query and /ping to the URL, so a query string or fragment would end up in
    the middle of each request URL.
    """
    fix = f"give the InfluxDB base URL, such as {INFLUX_URL_EXAMPLE}"
    if any(char.isspace() for char in value):
        raise ValueError(f"{value!r} contains white space; {fix}")
    try:
        url = URL(value)
        url.port  # noqa: B018 - yarl checks the port only when it is read
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid URL ({exc}); {fix}") from None
    if url.scheme not in ("http", "https"):
        scheme = url.scheme or "none"
        raise ValueError(f"{value!r} has scheme {scheme!r}, not http or https; {fix}")
    if not url.raw_host:
        raise ValueError(f"{value!r} has no host; {fix}")
    if not check_host(url.raw_host):
        raise ValueError(
            f"{value!r} has the invalid host {url.raw_host!r}: give a host name,"
            f" an IPv4 address or an IPv6 address in brackets; {fix}"
        )
    if url.raw_user is not None:
        raise ValueError(
            f"{value!r} contains credentials; remove them from the URL and set"
            " username and password, or token, in [store]"
        )
    if "?" in value:
        raise ValueError(f"{value!r} has a query string; remove it, and {fix}")
    if "#" in value:
        raise ValueError(f"{value!r} has a fragment (#...); remove it, and {fix}")
    return value.rstrip("/")


def check_file_path(path: Path, example: str) -> Path:
    """Raise ValueError unless `path` can name a file in an existing directory.

    SQLite creates a missing file but neither a missing directory nor a file
    in place of a directory, so `beamwatch run` would fail on either.
    """
    if str(path) in ("", ".") or path.is_dir():
        raise ValueError(
            f"{str(path)!r} is not a file path but a directory;"
            f" give a file such as {example}"
        )
    parent = path.parent
    if not parent.is_dir():
        state = "is not a directory" if parent.exists() else "does not exist"
        raise ValueError(
            f"directory {parent} {state}; create it (mkdir -p {parent})"
            f" or give a file in an existing directory, such as {example}"
        )
    return path
