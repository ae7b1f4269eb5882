"""The one interface an issuer offers the issuance state machine, and what it gives back."""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from ..http import ApiError, Client
from ..orders import Order
from ..statuses import IssuerName, ItemKind, ItemStatus


@dataclass(frozen=True)
class Item:
    """What an issuer needs of a pending item: its identity and the body every try sends."""

    id: int
    kind: ItemKind
    external_unique_id: str
    request: dict[str, Any]
    posts: int  # create calls counted before they went out
    held: bool = False  # over its shop's monthly budget when last looked at

    @classmethod
    def of(cls, row: Any) -> Item:
        return cls(row.id, ItemKind(row.kind), row.external_unique_id,
                   json.loads(row.request_json or "{}"), row.posts, row.status == ItemStatus.HELD)


@dataclass(frozen=True)
class Issued:
    """One issued certificate, offering or CertFusion certificate, as the item keeps it."""

    certificate_id: str
    certificate_url: str
    certificate_image_url: str = ""
    impact: str = ""
    code: str | None = None
    claim_url: str | None = None
    claims: int | None = None

    def columns(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}  # asdict(), uncopied


Outcome = Issued | ApiError


def attempt(call: Callable[..., Issued], *args: Any) -> Outcome:
    """What the call gave, or the ApiError it raised."""
    try:
        return call(*args)
    except ApiError as exc:
        return exc


class Issuer(ABC):
    """How one kind of item is built, created, found again and read at its provider.

    create() is only ever called for items whose call was counted first; find() is asked
    before any item that may have been sent is sent again, and may only adopt what carries
    exactly this item's identity.
    """

    kind: ClassVar[ItemKind]
    name: ClassVar[IssuerName]

    def __init__(self, settings: Any, http: Client):
        self.settings, self.http = settings, http  # the provider's settings, its one HTTP client

    @abstractmethod
    def request(self, order: Order, earned: Any, external_unique_id: str, now: float) -> dict[str, Any]:
        """The create body for what the rules earned, fixed before the first try."""

    def create(self, items: list[Item]) -> dict[int, Outcome]:
        """What each item became, or why not: one call each, unless the provider batches."""
        return {item.id: attempt(self.create_one, item) for item in items}

    def create_one(self, item: Item) -> Issued:
        raise NotImplementedError

    @abstractmethod
    def find(self, item: Item) -> Issued | None:
        """What an earlier create made for this item, or None if it made nothing."""
