"""InfluxQL over HTTP: statements and bind parameters in, result series out.

`InfluxQLClient` posts statements to `/query` with their values as bind
parameters, turns the JSON reply into series of rows, and raises
StoreUnavailable with the database's message when a request or statement fails.
`time_params` and `tag_filter` build the time range and tag parameters that the
statements of `InfluxStore` in collector.store.influx share.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from collector.store.base import QueryFilter, StoreUnavailable
from probe.writers import auth_headers, describe_failure

Row = dict[str, Any]
# One result series: its tags and its rows as column -> value.
Series = tuple[dict[str, str], list[Row]]

TIME_RANGE = "time >= $since AND time < $until"


class TruncatedResult(StoreUnavailable):
    """InfluxDB returned only part of a result, as its max-row-limit allows."""


def time_params(since_ms: int, until_ms: int) -> dict[str, Any]:
    # Bound times are nanoseconds since the epoch.
    return {"since": int(since_ms) * 1_000_000, "until": int(until_ms) * 1_000_000}


def tag_filter(where: QueryFilter, params: dict[str, Any]) -> str:
    """Build ` AND "tag" = $tag` clauses for `where` and add the values to `params`."""
    clauses = ""
    for tag in ("region", "provider", "target"):
        value = getattr(where, tag)
        if value is not None:
            clauses += f' AND "{tag}" = ${tag}'
            params[tag] = str(value)
    return clauses


class InfluxQLClient:
    """A client that runs InfluxQL on one database over `/query`, on one session."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._url = url.rstrip("/")
        self._database = database
        self._headers = auth_headers(username=username, password=password, token=token)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers=self._headers
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def query(
        self, statements: list[str], params: dict[str, Any]
    ) -> list[list[Series]]:
        """Run InfluxQL statements in one request; return each one's series.

        Raises StoreUnavailable naming the database's message when the request
        or any statement fails.
        """
        form = {
            "db": self._database,
            "q": ";\n".join(statements),
            "params": json.dumps(params),
            "epoch": "ms",
        }
        try:
            async with self._client().post(f"{self._url}/query", data=form) as reply:
                text = await reply.text()
                status = reply.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = describe_failure(exc, self._timeout.total)
            raise StoreUnavailable(f"InfluxDB at {self._url}: {reason}") from exc
        try:
            body = json.loads(text)
        except ValueError:
            body = {"error": text.strip()[:300]}
        if status != 200 or "error" in body:
            raise StoreUnavailable(
                f"InfluxDB query failed with {status}: {body.get('error', text)}"
            )

        errors = [r["error"] for r in body.get("results", []) if "error" in r]
        if errors:
            # Statements after a failed one only report "not executed".
            cause = next((e for e in errors if e != "not executed"), errors[0])
            if cause == "not executed" and len(statements) > 1:
                # InfluxDB 1.6 names the cause only when the failing
                # statement runs alone, e.g. for a missing database.
                await self.query(statements[:1], params)
            hint = ""
            if cause.startswith("database not found"):
                hint = "; create it with `beamwatch influx setup`"
            raise StoreUnavailable(f"InfluxDB query failed: {cause}{hint}")

        results: list[list[Series]] = []
        for result in body.get("results", []):
            if result.get("partial") or any(
                series.get("partial") for series in result.get("series", [])
            ):
                raise TruncatedResult(
                    "InfluxDB cut a result short; set max-row-limit = 0 in the"
                    " [http] section of its configuration"
                )
            found = []
            for series in result.get("series", []):
                columns = series["columns"]
                rows = [
                    dict(zip(columns, row, strict=True)) for row in series["values"]
                ]
                found.append((series.get("tags", {}), rows))
            results.append(found)
        return results

    async def query_each(
        self, statements: list[str], params: dict[str, Any]
    ) -> list[list[Series]]:
        """Run each statement in its own request, all at once.

        InfluxDB runs the statements of one request one after another. Separate
        requests run in parallel on its cores, so the latency is that of the
        slowest statement instead of the sum.
        """
        replies = await asyncio.gather(
            *(self.query([statement], params) for statement in statements)
        )
        return [reply[0] for reply in replies]
