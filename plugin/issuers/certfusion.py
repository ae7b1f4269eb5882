"""CertFusion: the buyer added as a recipient of a list and issued, several in one batch call.

A list holds an email once, so adding is safe to repeat (created, updated and skipped all give
the recipient back). Only issuing is not: a recipient already issued is adopted, never issued
again, and find() adopts only an issued recipient with exactly this email in this list.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..http import ApiError, Client, Rejected, Response, Transient, body_of
from ..orders import Order, valid_email
from ..rules import CertFusion as Earned
from ..settings import CertFusionSettings
from ..statuses import IssuerName, ItemKind
from .base import Issued, Issuer, Item, Outcome, attempt

SERVICE = "CertFusion"
ISSUED = "issued"


def client(settings: CertFusionSettings) -> Client:
    return Client(SERVICE, settings.api_url, (settings.connect_timeout, settings.read_timeout),
                  max_bytes=settings.max_answer_bytes,
                  headers={"Authorization": f"Bearer {settings.api_token}"})


def _page(response: Response) -> tuple[list[Any], int]:
    body = body_of(response, SERVICE)
    return list(body.get("data") or []), int((body.get("meta") or {}).get("last_page") or 1)


class CertFusion(Issuer):
    kind, name = ItemKind.CERTFUSION, IssuerName.CERTFUSION
    settings: CertFusionSettings

    def request(self, order: Order, earned: Earned, external_unique_id: str,
                now: float) -> dict[str, Any]:
        return {"list_id": earned.list_id, "email": order.email,
                "name": (order.customer_name.strip() or order.email)[:255],
                "custom_fields": dict(earned.custom_fields)}

    def issued(self, recipient: dict[str, Any]) -> Issued:
        uuid = str(recipient.get("uuid") or "")
        if not uuid:
            raise Transient(f"{SERVICE}: the recipient has no certificate yet; it will be looked up")
        return Issued(certificate_id=uuid,
                      certificate_url=self.settings.certificate_url.replace("{uuid}", uuid))

    def create(self, items: list[Item]) -> dict[int, Outcome]:
        """Add every recipient, then issue those not yet issued, several in one call."""
        out: dict[int, Outcome] = {}
        added: dict[int, dict[str, Any]] = {}
        for item in items:
            try:
                added[item.id] = self._add(item.request)
            except ApiError as exc:  # e.g. a custom field the list's design lacks
                out[item.id] = exc
        drafts = [r["id"] for r in added.values() if r.get("status") != ISSUED]
        issued: dict[Any, dict[str, Any]] = {}
        failure: ApiError = Transient(f"{SERVICE}: the recipient is not issued yet")
        if drafts:
            try:
                issued = {r["id"]: r for r in self._issue(drafts)}
            except ApiError as exc:
                failure = exc
        for item_id, recipient in added.items():
            recipient = issued.get(recipient["id"], recipient)
            out[item_id] = attempt(self.issued, recipient) if recipient.get("status") == ISSUED \
                else failure
        return out

    def find(self, item: Item) -> Issued | None:
        """The issued recipient with exactly this email in this list (the search matches partly)."""
        email, list_id = item.request.get("email", ""), item.request["list_id"]
        if not email:
            return None
        for recipient in self.http.pages("/api/recipients/search", {"email": email}, _page):
            if recipient.get("list_id") == list_id and str(recipient.get("email", "")).lower() == \
                    email.lower() and recipient.get("status") == ISSUED:
                return self.issued(recipient)
        return None

    def lists(self) -> Iterator[dict[str, Any]]:
        return self.http.pages("/api/lists", {}, _page)

    def _add(self, want: dict[str, Any]) -> dict[str, Any]:
        if not valid_email(want.get("email", "")):  # none, or erased at the customer's request
            raise Rejected(f"{SERVICE}: the order has no valid email for a recipient")
        body = {"list_id": want["list_id"], "email": want["email"], "name": want.get("name") or want["email"]}
        if want.get("custom_fields"):
            body["custom_fields"] = want["custom_fields"]
        return dict(self.http.json("POST", "/api/recipients", json=body)["data"])

    def _issue(self, recipient_ids: list[int]) -> list[dict[str, Any]]:
        if len(recipient_ids) == 1:
            return [dict(self.http.json("POST", f"/api/recipients/{recipient_ids[0]}/issue")["recipient"])]
        answer = self.http.json("POST", "/api/recipients/issue", json={"recipient_ids": recipient_ids})
        return [dict(r) for r in answer["recipients"]]
