"""Writers that post line protocol to InfluxDB, and the errors that decide retries.

`V1Writer` posts to `/write` and `V2Writer` to `/api/v2/write`. Both raise a
`WriteError` when the database does not take a batch, and its subclass decides
whether `BatchingSink` in probe.sinks retries the batch:

    WriteError                 the database did not take a batch
    +-- TransientWriteError    connection error, timeout, 5xx, 429: retry later
    +-- PermanentWriteError    any other 4xx: the same request fails again
"""

from __future__ import annotations

import base64
import email.utils
import json
import time
from typing import Any, Protocol

import aiohttp

# Database messages are cut to this length in logs and in the spool.
MAX_MESSAGE_CHARS = 500


class WriteError(Exception):
    """The database did not take a batch. `status` is the HTTP status, if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientWriteError(WriteError):
    """A failure that may pass: the same batch can succeed later."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, status)
        self.retry_after_s = retry_after_s


class PermanentWriteError(WriteError):
    """The database rejected the batch; sending it again fails the same way."""


def classify_response(
    status: int, body: str, retry_after: str | None, endpoint: str
) -> WriteError:
    """Turn an HTTP error response into the matching WriteError."""
    message = error_message(body) or f"HTTP {status}"
    text = f"{endpoint} returned {status}: {message}"
    if status == 429 or status >= 500:
        return TransientWriteError(text, status, parse_retry_after(retry_after))
    return PermanentWriteError(text, status)


def error_message(body: str) -> str:
    """Return the `error` (1.x) or `message` (2.x) of a JSON error body, or the body."""
    try:
        decoded = json.loads(body)
    except ValueError:
        return body.strip()[:MAX_MESSAGE_CHARS]
    if isinstance(decoded, dict):
        text = decoded.get("error") or decoded.get("message")
        if isinstance(text, str):
            return text[:MAX_MESSAGE_CHARS]
    return body.strip()[:MAX_MESSAGE_CHARS]


def parse_retry_after(value: str | None) -> float | None:
    """Parse Retry-After as delay seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def describe_failure(exc: BaseException, timeout_s: float | None) -> str:
    """Describe a failed request in words; a timeout has no message of its own."""
    if isinstance(exc, TimeoutError):
        limit = "" if timeout_s is None else f" after {timeout_s:g} s"
        return f"timed out{limit}; raise [store] timeout_s if the database is slow"
    return str(exc) or type(exc).__name__


def auth_headers(
    *, username: str | None, password: str | None, token: str | None
) -> dict[str, str]:
    """Return the InfluxDB Authorization header: a token wins over user/password."""
    if token:
        return {"Authorization": f"Token {token}"}
    if username:
        pair = f"{username}:{password or ''}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
    return {}


class LineWriter(Protocol):
    """Posts one body of newline-separated lines; raises a WriteError on failure."""

    endpoint: str

    async def write(self, body: str) -> None: ...

    async def close(self) -> None: ...


class V1Writer:
    """Writes through `/write?db=&rp=&precision=ms` (1.x, and 2.x and 3.x compat).

    Auth is HTTP Basic with `username` and `password`, or `Authorization:
    Token` with `token`, or none.
    """

    def __init__(
        self,
        url: str,
        database: str,
        *,
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.endpoint = f"{url.rstrip('/')}/write"
        self._params = {"db": database, "precision": "ms"}
        if retention_policy:
            self._params["rp"] = retention_policy
        self._headers = {
            "Content-Type": "text/plain; charset=utf-8",
            **auth_headers(username=username, password=password, token=token),
        }
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def write(self, body: str) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(
                self.endpoint,
                params=self._params,
                data=body.encode(),
                headers=self._headers,
            ) as response:
                if response.status in (200, 204):
                    return
                text = await response.text(errors="replace")
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = describe_failure(exc, self._timeout.total)
            raise TransientWriteError(f"{self.endpoint} failed: {reason}") from exc
        raise classify_response(response.status, text, retry_after, self.endpoint)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class V2Writer:
    """Writes through `/api/v2/write` with influxdb-client (2.x, Cloud, 3.x)."""

    def __init__(
        self,
        url: str,
        bucket: str,
        *,
        org: str | None = None,
        token: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.endpoint = f"{url.rstrip('/')}/api/v2/write"
        self._url = url
        self._bucket = bucket
        self._org = org or "-"
        self._token = token
        self._timeout_ms = int(timeout_s * 1000)
        self._client: Any = None
        self._write_api: Any = None

    async def write(self, body: str) -> None:
        # Imported here so a v1-only deployment never loads the client.
        from influxdb_client.client.exceptions import InfluxDBError
        from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
        from influxdb_client.domain.write_precision import WritePrecision

        if self._client is None:
            self._client = InfluxDBClientAsync(
                self._url,
                token=self._token or "",
                org=self._org,
                timeout=self._timeout_ms,
            )
            self._write_api = self._client.write_api()
        try:
            await self._write_api.write(
                bucket=self._bucket,
                org=self._org,
                record=body,
                write_precision=WritePrecision.MS,
            )
        except InfluxDBError as exc:
            status = getattr(exc, "status", None) or getattr(
                exc.response, "status", None
            )
            if status is None:
                raise TransientWriteError(f"{self.endpoint} failed: {exc}") from exc
            raise classify_response(
                int(status), str(exc.message), exc.retry_after, self.endpoint
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = describe_failure(exc, self._timeout_ms / 1000)
            raise TransientWriteError(f"{self.endpoint} failed: {reason}") from exc

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
