"""What the app sets up in a store and may do there: its webhook subscriptions (made sure of,
never deleted) and the scopes it was granted."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..http import Rejected
from .shopify_graphql import SERVICE, call

# The topics certhook needs, as the webhook names them and as GraphQL's enum does
TOPICS = {"orders/paid": "ORDERS_PAID", "orders/cancelled": "ORDERS_CANCELLED",
          "refunds/create": "REFUNDS_CREATE", "app/uninstalled": "APP_UNINSTALLED"}
REQUIRED_SCOPES = ("read_orders", "write_orders")

SUBSCRIPTIONS = """
query certhookWebhooks {
  webhookSubscriptions(first: 50) { nodes { id topic uri format } }
}
""".strip()

CREATE = """
mutation certhookWebhookCreate($topic: WebhookSubscriptionTopic!,
                               $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id }
    userErrors { field message }
  }
}
""".strip()

UPDATE = """
mutation certhookWebhookUpdate($id: ID!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionUpdate(id: $id, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id }
    userErrors { field message }
  }
}
""".strip()

SCOPES = "query certhookScopes { currentAppInstallation { accessScopes { handle } } }"


class Door(Protocol):
    """The shop's Admin API, as graphql.call uses it."""

    def request(self, method: str, path: str, allow: tuple[int, ...] = (), **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Subscribed:
    """What became of one topic: created, updated (it pointed elsewhere) or left alone."""

    topic: str
    action: str
    was: str = ""


def subscriptions(http: Door) -> list[dict[str, Any]]:
    return call(http, SUBSCRIPTIONS, {})["data"]["webhookSubscriptions"]["nodes"]


def _user_errors(body: dict[str, Any], name: str, topic: str) -> None:
    errors = (body["data"].get(name) or {}).get("userErrors") or []
    if errors:
        raise Rejected(f"{SERVICE}: {topic}: " + "; ".join(
            f"{'.'.join(map(str, e.get('field') or []))}: {e.get('message')}".lstrip(": ")
            for e in errors))


def ensure(http: Door, uri: str) -> list[Subscribed]:
    """Every topic certhook needs sent to `uri`, in JSON: a missing one is created, one that
    points elsewhere updated; the store's other subscriptions are left as they are."""
    found = {node["topic"]: node for node in subscriptions(http)}
    wanted = {"uri": uri, "format": "JSON"}
    out = []
    for topic, name in TOPICS.items():
        node = found.get(name)
        if node is None:
            body = call(http, CREATE, {"topic": name, "webhookSubscription": wanted})
            _user_errors(body, "webhookSubscriptionCreate", topic)
            out.append(Subscribed(topic, "created"))
        elif node.get("uri") != uri or node.get("format") != "JSON":
            body = call(http, UPDATE, {"id": node["id"], "webhookSubscription": wanted})
            _user_errors(body, "webhookSubscriptionUpdate", topic)
            out.append(Subscribed(topic, "updated", str(node.get("uri"))))
        else:
            out.append(Subscribed(topic, "unchanged"))
    return out


def missing(http: Door, uri: str) -> list[str]:
    """The topics not sent to `uri` in JSON."""
    found = {(n.get("topic"), n.get("uri"), n.get("format")) for n in subscriptions(http)}
    return [topic for topic, name in TOPICS.items() if (name, uri, "JSON") not in found]


def scopes(http: Door) -> list[str]:
    installation = call(http, SCOPES, {})["data"].get("currentAppInstallation") or {}
    return sorted(str(s.get("handle")) for s in installation.get("accessScopes") or [])
