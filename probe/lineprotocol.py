"""InfluxDB line protocol for the fixed beamwatch schema, built with f-strings.

`influxdb_client.Point` spends most of its time on generic type dispatch. The
schema here is fixed, so `ProbeEncoder.encode` has every key, type and order
written out, and builds each series' escaped tags once. Its output is byte for
byte what `Point.to_line_protocol()` produces for the same point, which the
property tests in tests/probe/test_lineprotocol.py check: tags and fields in
key order, None fields left out, floats without a trailing `.0`, non-finite
floats left out, integers with an `i` suffix, and timestamps in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from probe.models import Measurement, Outcome

PROBE_MEASUREMENT: Final = "probe"

# Escapes of InfluxDB 1.x line protocol, the same tables influxdb_client uses.
_KEY_ESCAPES = str.maketrans(
    {",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"}
)
_MEASUREMENT_ESCAPES = str.maketrans(
    {",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"}
)
_STRING_ESCAPES = str.maketrans({'"': r"\"", "\\": r"\\"})

_NOT_REUSED = "connection_reused=false"

FieldValue = float | int | bool | str | None


def escape_key(text: str) -> str:
    """Escape a tag key, tag value or field key."""
    return text.translate(_KEY_ESCAPES)


def escape_tag_value(text: str) -> str:
    """Escape a tag value; a trailing backslash gets a space so it escapes nothing.

    NOTE: two cases do not round trip, as with Point. InfluxDB 1.6 stores an
    escaped newline as the two characters backslash and n, and `tail\\` as
    `tail ` (checked against influxd). Probe tags match TAG_VALUE_PATTERN, so
    only free-text tags such as an alert's subject can hit them.
    """
    escaped = text.translate(_KEY_ESCAPES)
    if escaped.endswith("\\"):
        escaped += " "
    return escaped


def escape_string(text: str) -> str:
    """Escape a string field value, which goes between double quotes."""
    return text.translate(_STRING_ESCAPES)


def format_float(value: float) -> str | None:
    """Format a float field value, or return None for NaN and infinities."""
    text = repr(value)
    if text[-1] in "nf":
        # Only "nan", "inf" and "-inf" end in a letter; InfluxDB takes none.
        return None
    return text[:-2] if text[-2:] == ".0" else text


def format_field(key: str, value: FieldValue) -> str | None:
    """Format one `key=value` pair, or return None when the value is left out."""
    if value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = f"{value}i"
    elif isinstance(value, float):
        formatted = format_float(value)
        if formatted is None:
            return None
        text = formatted
    else:
        text = f'"{value.translate(_STRING_ESCAPES)}"'
    return f"{escape_key(key)}={text}"


def encode_line(
    measurement: str,
    tags: Mapping[str, str | None],
    fields: Mapping[str, FieldValue],
    time_ms: int,
) -> str:
    """Encode one point of any measurement; empty or None tag values are left out.

    Raises ValueError when no field has a value, because InfluxDB rejects a
    line without fields.
    """
    tag_parts = [
        f"{escape_key(key)}={escape_tag_value(value)}"
        for key, value in sorted(tags.items())
        if value
    ]
    field_parts = [
        part
        for key, value in sorted(fields.items())
        if (part := format_field(key, value)) is not None
    ]
    if not field_parts:
        raise ValueError(
            f"point of {measurement!r} at {time_ms} has no field value;"
            " give it at least one field that is not None"
        )
    tag_text = "," + ",".join(tag_parts) if tag_parts else ""
    name = measurement.translate(_MEASUREMENT_ESCAPES)
    return f"{name}{tag_text} {','.join(field_parts)} {time_ms}"


class ProbeEncoder:
    """Encodes `Measurement`s as `probe` lines, caching each series' escaped key.

    A deployment has few series and many points, so the measurement name and
    escaped tags are built once per series and reused.
    """

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, str, str, str], str] = {}

    def series_key(self, m: Measurement) -> str:
        key = (m.network, m.outcome, m.provider, m.region, m.target)
        cached = self._series.get(key)
        if cached is None:
            # Tag keys in sorted order, as Point writes them.
            tags = zip(
                ("network", "outcome", "provider", "region", "target"), key, strict=True
            )
            cached = PROBE_MEASUREMENT + "".join(
                f",{name}={escape_tag_value(value)}" for name, value in tags if value
            )
            self._series[key] = cached
        return cached

    def encode(self, m: Measurement) -> str:
        """Encode one measurement; fields in key order, None and NaN left out."""
        parts = [f"bytes={m.bytes}i"]
        add = parts.append
        if m.cf_ray is not None:
            add(f'cf_ray="{_string(m.cf_ray)}"')
        if m.connect_ms is not None and (text := format_float(m.connect_ms)):
            add(f"connect_ms={text}")
        add("connection_reused=true" if m.connection_reused else _NOT_REUSED)
        if m.data_set_id is not None:
            add(f'data_set_id="{_string(m.data_set_id)}"')
        if m.dns_ms is not None and (text := format_float(m.dns_ms)):
            add(f"dns_ms={text}")
        if m.download_ms is not None and (text := format_float(m.download_ms)):
            add(f"download_ms={text}")
        if m.error is not None:
            add(f'error="{_string(m.error)}"')
        if m.http_version is not None:
            add(f'http_version="{_string(m.http_version)}"')
        add("ok=true" if m.outcome is Outcome.OK else "ok=false")
        add(f"redirects={m.redirects}i")
        if m.remote_ip is not None:
            add(f'remote_ip="{_string(m.remote_ip)}"')
        if m.status_code is not None:
            add(f"status_code={m.status_code}i")
        expiry = m.tls_cert_expiry_days
        if expiry is not None and (text := format_float(expiry)):
            add(f"tls_cert_expiry_days={text}")
        if m.tls_ms is not None and (text := format_float(m.tls_ms)):
            add(f"tls_ms={text}")
        if m.total_ms is not None and (text := format_float(m.total_ms)):
            add(f"total_ms={text}")
        if m.ttfb_ms is not None and (text := format_float(m.ttfb_ms)):
            add(f"ttfb_ms={text}")
        return f"{self.series_key(m)} {','.join(parts)} {m.time_ms}"

    def encode_batch(self, measurements: list[Measurement]) -> list[str]:
        encode = self.encode
        return [encode(m) for m in measurements]


def _string(text: str) -> str:
    # Most values hold neither quotes nor backslashes; skip the translate then.
    if '"' in text or "\\" in text:
        return text.translate(_STRING_ESCAPES)
    return text
