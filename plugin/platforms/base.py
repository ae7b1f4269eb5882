"""The one shape of a store: its webhooks (verify, topics, normalize) and its admin API."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from ..orders import Order
from ..settings import Shop
from ..statuses import Refunded
from . import signatures

if TYPE_CHECKING:  # built on top of the platforms; only its type is needed here
    from ..connections import Connections


class Topic(StrEnum):
    HANDLED = "handled"  # an order to record
    CHANGE = "change"    # an order changed after payment: cancelled or refunded
    PRIVACY = "privacy"  # erase what certhook holds
    UNINSTALLED = "uninstalled"  # the app was removed from the store: the shop is disconnected
    IGNORED = "ignored"  # answered 200 and logged, so the store stops sending it
    UNKNOWN = "unknown"  # the same, and worth a line in the log


@dataclass(frozen=True)
class Webhook:
    """What a delivery's headers say: whose it is, its signature, topic and event id."""

    domain: str
    signature: str | None
    topic: str
    event_id: str | None


@dataclass(frozen=True)
class Erasure:
    """What a privacy topic asks certhook to forget."""

    whole_shop: bool = False
    request_only: bool = False  # a data request: recorded, erases nothing
    order_ids: tuple[str, ...] = ()
    email: str = ""


@dataclass(frozen=True)
class Change:
    """What a delivery says became of an order after payment."""

    order_id: str
    cancelled: bool = False
    refunded: Refunded = Refunded.NONE
    # A refund's lines, (line item id, quantity): all of the order's lines in full is a full refund
    refund_lines: tuple[tuple[str, int], ...] = ()
    order: Order | None = None  # the order itself, when the delivery carries it
    # Whether that order had been paid: one certhook never saw is then kept as cancelled, so a
    # late (or redelivered) payment webhook of it issues nothing
    was_paid: bool = False

    @property
    def ends_it(self) -> bool:
        """Cancelled or fully refunded: nothing not yet sent may be issued."""
        return self.cancelled or self.refunded == Refunded.FULL


@dataclass(frozen=True)
class Plain:
    """A plain paid order as the webhook records it: whose and which; its job reads the rest."""

    order_id: str
    order_name: str
    email: str
    customer_name: str


# (order id, how to fetch the whole order): the paid orders of a window, fetched one by one.
PaidOrder = tuple[str, Callable[[], Order]]


class StoreApi(ABC):
    """One shop's admin API."""

    # Whether the store emails the customer a note with the links (posted once per order).
    customer_note: ClassVar[bool] = False

    @abstractmethod
    def write_back(self, order_id: str, entries: list[dict[str, Any]],
                   customer_url: str | None) -> None:
        """Put the links onto the order; safe to repeat (an upsert)."""

    def note_sent(self, order_id: str, entries: list[dict[str, Any]]) -> bool:
        """Whether a note with these links is on the order already (an answer may have been lost)."""
        raise NotImplementedError

    def send_note(self, order_id: str, entries: list[dict[str, Any]], customer_url: str | None) -> None:
        raise NotImplementedError

    @abstractmethod
    def paid_orders(self, since: datetime, until: datetime) -> list[PaidOrder]:
        """Every order paid (in a trigger status) and updated within [since, until]."""

    @abstractmethod
    def close(self) -> None: ...


class Adapter(ABC):
    """One store platform: the webhook's headers and topics, its orders, its admin API."""

    name: ClassVar[str]  # as in certhook.yaml and /webhooks/<name>
    topics: ClassVar[Mapping[str, Topic]]
    # Whether a webhook's event id names one event (a repeat is a duplicate delivery)
    unique_event_ids: ClassVar[bool] = False

    def is_ping(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """An unsigned delivery the store sends to test the URL, answered 200 and recorded nowhere."""
        return False

    @abstractmethod
    def webhook(self, headers: Mapping[str, str]) -> Webhook: ...

    def verify(self, body: bytes, secret: str, signature: str | None) -> bool:
        return signatures.verify(body, secret, signature)

    def topic(self, topic: str) -> Topic:
        return self.topics.get(topic, Topic.UNKNOWN)

    def plain_order(self, shop: Shop, payload: dict[str, Any]) -> Plain | None:
        """Whose and which order, if this delivery of a handled topic is nothing but a paid order to
        record (not a test, not cancelled, no refund): it is recorded as sent and read by its
        first job. None: it needs reading now. PayloadError names a field of the order's
        identity (which order, whose) that the schema refuses; the rest is read by the job."""
        return None

    def ignore(self, shop: Shop, payload: dict[str, Any]) -> str | None:
        """Why an order of a handled topic is still not acted on, or None."""
        return None

    def change(self, shop: Shop, topic: str, payload: dict[str, Any], order: Order | None) -> Change | None:
        """A cancellation or a refund in this delivery (`order`: its order, if it carries one)."""
        if order is not None and order.cancelled_at:
            return Change(order.order_id, cancelled=True, order=order, was_paid=True)
        return None

    def erasure(self, shop: Shop, topic: str, payload: dict[str, Any]) -> Erasure:
        """What a privacy topic asks; PayloadError if its body is not that topic's, or not for
        this shop (a signed order body resent under a privacy topic must erase nothing)."""
        raise NotImplementedError(f"{self.name} has no privacy topics")

    def uninstalled(self, shop: Shop, payload: dict[str, Any]) -> None:
        """PayloadError unless the body says this shop removed the app (a signed body of
        another topic resent as an uninstall must disconnect nothing)."""
        raise NotImplementedError(f"{self.name} has no uninstall topic")

    @abstractmethod
    def normalize(self, shop_id: str, payload: dict[str, Any]) -> Order:
        """The store's order as the platform-neutral Order; PayloadError names a bad field."""

    @abstractmethod
    def api(self, shop: Shop, connections: Connections) -> StoreApi:
        """The shop's admin API (`connections`: where a Shopify app's tokens are kept)."""

    def warning(self, shop: Shop, today: date) -> str | None:
        """Something in the shop's settings that works today but wants changing."""
        return None
