"""What the app sets up in a store and may do there: its webhook subscriptions (made sure of,
never deleted) and the scopes it was granted."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .shopify_graphql import SERVICE, call

# The topics certhook needs, as the webhook names them and as GraphQL's enum does
TOPICS = {"orders/paid": "ORDERS_PAID", "orders/cancelled": "ORDERS_CANCELLED",
          "refunds/create": "REFUNDS_CREATE", "app/uninstalled": "APP_UNINSTALLED"}

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
    """What became of one topic: created, updated (`detail`: where it pointed), unchanged, or
    failed (`detail`: the store's userErrors)."""

    topic: str
    action: str
    detail: str = ""


def subscriptions(http: Door) -> list[dict[str, Any]]:
    return call(http, SUBSCRIPTIONS, {})["data"]["webhookSubscriptions"]["nodes"]


def _user_errors(body: dict[str, Any], name: str) -> str:
    errors = (body["data"].get(name) or {}).get("userErrors") or []
    return "; ".join(f"{'.'.join(map(str, e.get('field') or []))}: {e.get('message')}".lstrip(": ")
                     for e in errors)


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
            errors, done = _user_errors(body, "webhookSubscriptionCreate"), Subscribed(topic, "created")
        elif node.get("uri") != uri or node.get("format") != "JSON":
            body = call(http, UPDATE, {"id": node["id"], "webhookSubscription": wanted})
            errors = _user_errors(body, "webhookSubscriptionUpdate")
            done = Subscribed(topic, "updated", str(node.get("uri")))
        else:
            errors, done = "", Subscribed(topic, "unchanged")
        out.append(Subscribed(topic, "failed", f"{SERVICE}: {errors}") if errors else done)
    return out


def compare(http: Door, uri: str) -> tuple[list[str], list[str]]:
    """The topics not sent to `uri` in JSON, and certhook's topics also sent somewhere else (an
    old address, say): (missing, stray)."""
    nodes = subscriptions(http)
    found = {(n.get("topic"), n.get("uri"), n.get("format")) for n in nodes}
    missing = [topic for topic, name in TOPICS.items() if (name, uri, "JSON") not in found]
    names = {name: topic for topic, name in TOPICS.items()}
    stray = [f"{names[n['topic']]} to {n.get('uri')}" for n in nodes
             if n.get("topic") in names and n.get("uri") != uri]
    return missing, stray


def scopes(http: Door) -> list[str]:
    installation = call(http, SCOPES, {})["data"].get("currentAppInstallation") or {}
    return sorted(str(s.get("handle")) for s in installation.get("accessScopes") or [])
