"""Judging a finished response: its status code and the target's checks."""

from __future__ import annotations

import hashlib
import re

from probe.filbeam import describe_status
from probe.models import Checks, Measurement, Outcome, Target


def judge(
    target: Target,
    measurement: Measurement,
    body: bytearray,
    digest: hashlib._Hash | None,
) -> None:
    """Set the outcome from the status code and the target's checks.

    Without declared status codes, any status from 400 up is `http_error`;
    with them, a status outside the list is `assertion_failed`.
    """
    status = measurement.status_code
    checks: Checks = target.checks
    assert status is not None
    if checks.status_codes:
        if status not in checks.status_codes:
            measurement.outcome = Outcome.ASSERTION_FAILED
            measurement.error = (
                f"status {status} is not one of {list(checks.status_codes)}"
            )
            return
    elif status >= 400:
        measurement.outcome = Outcome.HTTP_ERROR
        # FilBeam's meanings of 402, 403, 404 and 502 hold for FilBeam only.
        if target.filbeam is not None:
            measurement.error = describe_status(status)
        else:
            measurement.error = f"HTTP {status}"
        return

    failure = _check_body(checks, measurement, body, digest)
    if failure is not None:
        measurement.outcome = Outcome.ASSERTION_FAILED
        measurement.error = failure


def _check_body(
    checks: Checks,
    measurement: Measurement,
    body: bytearray,
    digest: hashlib._Hash | None,
) -> str | None:
    size = measurement.bytes
    if checks.min_bytes is not None and size < checks.min_bytes:
        return f"body has {size} bytes, fewer than min_bytes={checks.min_bytes}"
    if checks.body_contains is not None and checks.body_contains.encode() not in body:
        return f"body does not contain {checks.body_contains!r}"
    if checks.body_regex is not None:
        text = body.decode("utf-8", errors="replace")
        if re.search(checks.body_regex, text) is None:
            return f"body does not match regular expression {checks.body_regex!r}"
    if digest is not None and checks.sha256 is not None:
        actual = digest.hexdigest()
        if actual != checks.sha256.lower():
            return f"body SHA-256 is {actual}, expected {checks.sha256}"
    ttfb_ms = measurement.ttfb_ms
    limit_ms = checks.max_ttfb_ms
    if limit_ms is not None and ttfb_ms is not None and ttfb_ms > limit_ms:
        return f"TTFB {ttfb_ms:.1f} ms exceeds max_ttfb_ms={limit_ms:g}"
    return None
