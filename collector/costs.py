"""Funding runway and daily spend of Filecoin Pay accounts, from `funds` snapshots.

Filecoin Pay keeps, per token and payer, `funds`, `lockupCurrent`,
`lockupRate` (per epoch) and `lockupLastSettledAt` (an epoch). An epoch is
30 seconds, 2880 a day. The account is funded until epoch

    lockupLastSettledAt + (funds - lockupCurrent) / lockupRate

and its runway in days is that epoch minus the current one, divided by 2880.
A negative runway means the account is already short by that many days.
With a lockup rate of zero nothing is spent, so the runway is unbounded and
reported as null.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from itertools import groupby, pairwise
from typing import Any

from collector.store.base import FundsSnapshot

EPOCH_MS = 30_000
EPOCHS_PER_DAY = 2880


def funded_until_epoch(snapshot: FundsSnapshot) -> float | None:
    """Return the epoch at which the account's free funds run out, or None."""
    if snapshot.lockup_rate <= 0:
        return None
    free = snapshot.funds - snapshot.lockup_current
    return snapshot.lockup_last_settled_at + free / snapshot.lockup_rate


def epoch_at(snapshot: FundsSnapshot, time_ms: int) -> float:
    """Estimate the chain epoch at `time_ms` from the snapshot's own epoch."""
    return snapshot.current_epoch + (time_ms - snapshot.time_ms) / EPOCH_MS


def runway_days(snapshot: FundsSnapshot, current_epoch: float) -> float | None:
    """Return days from `current_epoch` until the funds run out; None if never."""
    until = funded_until_epoch(snapshot)
    if until is None:
        return None
    return (until - current_epoch) / EPOCHS_PER_DAY


def daily_spend(history: Sequence[FundsSnapshot]) -> list[dict[str, Any]]:
    """Sum the spend accrued per UTC day from one account's snapshots, oldest first.

    Between two snapshots the account accrues its lockup rate for every epoch
    that passed, whether or not the payment was settled yet. That amount is
    booked on the UTC day of the later snapshot. Days without two snapshots
    are left out rather than shown as zero spend.
    """
    spend_by_day: dict[str, float] = defaultdict(float)
    for earlier, later in pairwise(history):
        epochs = max(later.current_epoch - earlier.current_epoch, 0)
        day = _utc_day(later.time_ms)
        spend_by_day[day] += earlier.lockup_rate * epochs
    return [{"day": day, "spend": spend} for day, spend in sorted(spend_by_day.items())]


def _utc_day(time_ms: int) -> str:
    moment = dt.datetime.fromtimestamp(time_ms / 1000, tz=dt.UTC)
    return moment.date().isoformat()


def account_view(
    latest: FundsSnapshot, history: Sequence[FundsSnapshot], now_ms: int
) -> dict[str, Any]:
    """Build one account's entry of the /api/costs response."""
    until = funded_until_epoch(latest)
    funded_until_ms = None
    if until is not None:
        funded_until_ms = latest.time_ms + round(
            (until - latest.current_epoch) * EPOCH_MS
        )
    return {
        "network": latest.network,
        "payer": latest.payer,
        "token": latest.token,
        "funds": latest.funds,
        "lockup_current": latest.lockup_current,
        "lockup_rate_per_epoch": latest.lockup_rate,
        "lockup_rate_per_day": latest.lockup_rate * EPOCHS_PER_DAY,
        "runway_days": runway_days(latest, epoch_at(latest, now_ms)),
        "funded_until_ms": funded_until_ms,
        "updated_ms": latest.time_ms,
        "daily_spend": daily_spend(history),
    }


def costs_view(
    latest: Sequence[FundsSnapshot],
    history: Sequence[FundsSnapshot],
    now_ms: int,
    runway_warning_days: float,
) -> dict[str, Any]:
    """Build the /api/costs response: one entry per (network, payer, token)."""

    def account(snapshot: FundsSnapshot) -> tuple[str, str, str]:
        return (snapshot.network, snapshot.payer, snapshot.token)

    history_by_account = {
        key: list(group) for key, group in groupby(history, key=account)
    }
    accounts = [
        account_view(snapshot, history_by_account.get(account(snapshot), []), now_ms)
        for snapshot in latest
    ]
    return {"accounts": accounts, "runway_warning_days": runway_warning_days}
