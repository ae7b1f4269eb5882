"""Names for allocation ids, from Dots.eco's `GET /allocations`, so people read "Save a Sea
Turtle" where the rules say 14.

The endpoint is not in our references; its answer is read defensively (a list of records, the
same under `data`, or an object keyed by id; a record's `display_name`, else its
`allocation_name`, else its plural label). Names are asked at most once an hour per process,
and a failure only means bare ids: nothing waits for them.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from .http import ApiError, Client

log = logging.getLogger(__name__)
TTL_SECONDS = 3600.0
LABELS = ("display_name", "allocation_name", "allocation_plural_label", "allocation_singular_label",
          "impact_type_name", "name")


def records(answer: Any) -> list[dict[str, Any]]:
    if isinstance(answer, dict) and isinstance(answer.get("data"), list):
        answer = answer["data"]
    if isinstance(answer, list):
        return [r for r in answer if isinstance(r, dict)]
    if isinstance(answer, dict):
        return [{"allocation_id": r.get("allocation_id", key), **r}
                for key, r in answer.items() if isinstance(r, dict)]
    return []


def read(answer: Any) -> dict[int, str]:
    """allocation id → its name, from an answer of unknown shape."""
    out: dict[int, str] = {}
    for record in records(answer):
        ident = str(record.get("allocation_id") or record.get("id") or "").strip()
        label = next((str(record[k]).strip() for k in LABELS if str(record.get(k) or "").strip()), "")
        if ident.isdigit() and label:
            out[int(ident)] = label[:255]
    return out


def label(allocation_id: int, names: Mapping[int, str]) -> str:
    """`allocation 14 (Save a Sea Turtle)`, or `allocation 14` without a name."""
    name = names.get(allocation_id)
    return f"allocation {allocation_id}" + (f" ({name})" if name else "")


class Names:
    """The allocation names this process knows; asked again when an hour old."""

    def __init__(self, client: Callable[[], Client | None], clock: Callable[[], float] = time.monotonic):
        self._client, self._clock = client, clock
        self._names: dict[int, str] | None = None
        self._asked = float("-inf")
        self._lock = threading.Lock()

    def fetch(self) -> dict[int, str]:
        """Ask Dots.eco now; ApiError if it can't be asked."""
        client = self._client()
        if client is None:
            return {}
        return read(client.json("GET", "/allocations"))

    def all(self) -> dict[int, str]:
        """The names, asked again when an hour old: by one thread, the others go on meanwhile
        with what is known (a slow answer holds up nobody else)."""
        with self._lock:
            stale = self._names is None or self._clock() - self._asked > TTL_SECONDS
            if stale:
                self._asked = self._clock()
            known = self._names or {}
        if not stale:
            return known
        try:
            names = self.fetch()
        except ApiError as exc:
            log.info("allocation names unknown: %s", exc.message)
            names = known
        with self._lock:
            self._names = names
        return names

    def cached(self) -> dict[int, str]:
        """What is known already, asking nothing (for a page being served)."""
        return self._names or {}
