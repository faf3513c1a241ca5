"""The fast line-protocol encoder against influxdb_client.Point and a real influxd."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from influxdb_client import Point, WritePrecision

from probe.lineprotocol import ProbeEncoder, encode_line
from probe.models import Measurement, Outcome
from tests.support.influx import InfluxServer, influxd

__all__ = ["influxd"]

# Every character class that line protocol escapes, plus text outside ASCII.
TRICKY = st.text(
    alphabet=st.sampled_from(list(' ,="\\\n\t\r=abcZ09_-.:é漢🚀')) | st.characters(),
    max_size=20,
)
FLOATS = st.none() | st.floats(allow_nan=True, allow_infinity=True)
INTS = st.integers(min_value=-(2**63), max_value=2**63 - 1)
OPTIONAL_TEXT = st.none() | TRICKY

measurements = st.builds(
    Measurement,
    time_ms=st.integers(min_value=0, max_value=2**42),
    target=TRICKY,
    provider=TRICKY,
    region=TRICKY,
    network=TRICKY,
    outcome=st.sampled_from(Outcome),
    dns_ms=FLOATS,
    connect_ms=FLOATS,
    tls_ms=FLOATS,
    ttfb_ms=FLOATS,
    download_ms=FLOATS,
    total_ms=FLOATS,
    status_code=st.none() | INTS,
    bytes=INTS,
    redirects=INTS,
    connection_reused=st.booleans(),
    error=OPTIONAL_TEXT,
    http_version=OPTIONAL_TEXT,
    remote_ip=OPTIONAL_TEXT,
    tls_cert_expiry_days=FLOATS,
    data_set_id=OPTIONAL_TEXT,
    cf_ray=OPTIONAL_TEXT,
)


def point_of(m: Measurement) -> Point:
    point = Point("probe").time(m.time_ms, WritePrecision.MS)
    for tag in ("region", "provider", "target", "network"):
        point.tag(tag, getattr(m, tag))
    point.tag("outcome", m.outcome.value)
    point.field("ok", m.ok)
    for name in (
        "dns_ms",
        "connect_ms",
        "tls_ms",
        "ttfb_ms",
        "download_ms",
        "total_ms",
        "status_code",
        "bytes",
        "redirects",
        "connection_reused",
        "error",
        "http_version",
        "remote_ip",
        "tls_cert_expiry_days",
        "data_set_id",
        "cf_ray",
    ):
        point.field(name, getattr(m, name))
    return point


@settings(max_examples=500, deadline=None)
@given(measurements)
def test_probe_encoder_matches_point(m: Measurement) -> None:
    assert ProbeEncoder().encode(m) == point_of(m).to_line_protocol()


@settings(max_examples=300, deadline=None)
@given(
    measurement=st.text(alphabet=st.characters(), min_size=1, max_size=10).filter(
        lambda name: not name.startswith("#")
    ),
    tags=st.dictionaries(TRICKY.filter(bool), OPTIONAL_TEXT, max_size=4),
    fields=st.dictionaries(
        TRICKY.filter(bool),
        FLOATS | INTS | st.booleans() | OPTIONAL_TEXT,
        min_size=1,
        max_size=5,
    ),
    time_ms=st.integers(min_value=0, max_value=2**42),
)
def test_encode_line_matches_point(
    measurement: str,
    tags: dict[str, str | None],
    fields: dict[str, float | int | bool | str | None],
    time_ms: int,
) -> None:
    point = Point(measurement).time(time_ms, WritePrecision.MS)
    for key, value in tags.items():
        point.tag(key, value)
    for key, value in fields.items():
        point.field(key, value)
    expected = point.to_line_protocol()
    if expected == "":
        with pytest.raises(ValueError, match="has no field value"):
            encode_line(measurement, tags, fields, time_ms)
    else:
        assert encode_line(measurement, tags, fields, time_ms) == expected


def test_encode_line_rejects_no_fields() -> None:
    with pytest.raises(ValueError, match="'alert' at 5 has no field value"):
        encode_line("alert", {"rule": "r"}, {"message": None}, 5)


def test_encoder_leaves_out_none_and_nan() -> None:
    m = Measurement(
        time_ms=7,
        target="t",
        provider="p",
        region="r",
        network="local",
        outcome=Outcome.TIMEOUT,
        dns_ms=float("nan"),
        ttfb_ms=None,
    )
    line = ProbeEncoder().encode(m)
    assert line == (
        "probe,network=local,outcome=timeout,provider=p,region=r,target=t"
        " bytes=0i,connection_reused=false,ok=false,redirects=0i 7"
    )


ROUND_TRIP_TEXTS = [
    pytest.param("plain", id="plain"),
    pytest.param("with space, comma=equals", id="separators"),
    pytest.param('say "hi" \\ back\\slash', id="quotes-backslashes"),
    pytest.param("line one\nline two", id="newline"),
    pytest.param("Zürich 東京 🚀", id="non-ascii"),
]


@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS)
def test_string_fields_survive_influxd(influxd: InfluxServer, text: str) -> None:
    m = Measurement(
        time_ms=1_700_000_000_000,
        target="t",
        provider="p",
        region="r",
        network="local",
        outcome=Outcome.HTTP_ERROR,
        error=text,
        cf_ray=text,
    )
    write(influxd, ProbeEncoder().encode(m))
    reply = influxd.query('SELECT "error", "cf_ray" FROM probe', "beamwatch")
    assert reply["results"][0]["series"][0]["values"] == [[m.time_ms, text, text]]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("with space, comma=equals", id="separators"),
        pytest.param("Zürich 東京", id="non-ascii"),
        pytest.param('quote"inside', id="quote"),
    ],
)
def test_tag_values_survive_influxd(influxd: InfluxServer, text: str) -> None:
    line = encode_line("alert", {"subject": text}, {"message": "m"}, 1000)
    write(influxd, line)
    query = urllib.parse.urlencode(
        {
            "db": "beamwatch",
            "q": 'SELECT "message" FROM alert WHERE "subject" = $subject',
            "params": json.dumps({"subject": text}),
        }
    )
    with urllib.request.urlopen(f"{influxd.url}/query?{query}") as reply:
        result = json.load(reply)["results"][0]
    assert result["series"][0]["values"] == [["1970-01-01T00:00:01Z", "m"]]


def write(server: InfluxServer, body: str) -> None:
    request = urllib.request.Request(
        f"{server.url}/write?db=beamwatch&precision=ms", data=body.encode()
    )
    with urllib.request.urlopen(request) as reply:
        assert reply.status == 204
