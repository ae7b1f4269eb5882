"""Dots.eco: certificates and eco club offerings, with their request fields, answers and lookups."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from ..http import Client, OutOfBalance, Rejected, Transient, body_of, error_for, message_of
from ..orders import Order, valid_email
from ..rules import Allocation, Offering
from ..settings import DotsSettings
from ..statuses import IssuerName, ItemKind
from .base import Issued, Issuer, Item

SERVICE = "Dots.eco"


def client(settings: DotsSettings) -> Client:
    return Client(SERVICE, settings.api_url, (settings.connect_timeout, settings.read_timeout),
                  max_bytes=settings.max_answer_bytes,
                  headers={"auth-token": settings.auth_token}, rate_limited=OutOfBalance)


def on_the_grid(when: datetime) -> datetime:
    """The nearest quarter hour, as Dots.eco keeps activation and expiration times."""
    quarter = 15 * 60
    return datetime.fromtimestamp((when.timestamp() + quarter / 2) // quarter * quarter, UTC)


def certificate(answer: Any) -> Issued:
    """A certificate answer (add or get); one that names no certificate is not yet known."""
    answer = answer if isinstance(answer, dict) else {}
    issued = Issued(certificate_id=str(answer.get("certificate_id") or ""),
                    certificate_url=str(answer.get("certificate_url") or ""),
                    certificate_image_url=str(answer.get("certificate_image_url") or ""),
                    impact=str(answer.get("impact_type_name") or ""))
    if not issued.certificate_id or not issued.certificate_url:
        raise Transient(f"{SERVICE}: the answer names no certificate; it will be looked up", 200)
    return issued


def offering(answer: Any) -> Issued:
    """An eco club offering (from add or list); one without its code is not yet known."""
    answer = answer if isinstance(answer, dict) else {}
    code, claim_url = str(answer.get("code") or ""), str(answer.get("claim_url") or "")
    if not answer.get("uuid") or not code or not claim_url:
        raise Transient(f"{SERVICE}: the answer names no offering; it will be looked up", 200)
    claim_url += ("&" if "?" in claim_url else "?") + urlencode({"ac": code})  # the code prefilled
    claims = str(answer.get("no_of_claims"))
    return Issued(certificate_id=str(answer["uuid"]), certificate_url=claim_url,
                  impact=str(answer.get("title") or "") or "Gift", code=code, claim_url=claim_url,
                  claims=int(claims) if claims.isdigit() else None)


class Certificates(Issuer):
    kind, name = ItemKind.CERTIFICATE, IssuerName.DOTS
    settings: DotsSettings

    def request(self, order: Order, earned: Allocation, external_unique_id: str,
                now: float) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "external_unique_id": external_unique_id, "impact_qty": earned.impact_qty,
            "allocation_id": earned.allocation_id, "remote_user_id": order.buyer_id,
            "certificate_info": order.order_id[:255]}
        if order.customer_name.strip():
            fields["name_on_certificate"] = order.customer_name.strip()[:255]
        if order.email and valid_email(order.email):
            fields["remote_user_email"] = order.email
        if order.currency:
            fields["currency"] = order.currency[:255]
        return fields

    def create_one(self, item: Item) -> Issued:
        body = {"app_token": self.settings.app_token, **item.request}
        if self.settings.send_certificate_by_email:
            body["send_certificate_by_email"] = "yes"
        if self.settings.langcode:
            body["langcode"] = self.settings.langcode
        try:
            return certificate(self.http.json("POST", "/certificate/add", json=body))
        except Rejected as exc:
            if exc.status != 422 or "already exists" not in exc.message:
                raise
        # "Already exists" is a recovery, not a failure: adopt what is there.
        found = self.find(item)
        if found is None:
            raise Transient(f"{SERVICE}: the certificate exists but can't be looked up yet")
        return found

    def find(self, item: Item) -> Issued | None:
        found = self.record(item.external_unique_id)
        return None if found is None else certificate(found)

    def record(self, external_unique_id: str) -> dict[str, Any] | None:
        """Dots.eco's record of the certificate with this external id, or None."""
        path = f"/certificate/{self.settings.app_id}/{quote(external_unique_id, safe='')}"
        response = self.http.request("GET", path, allow=(404,))
        if response.status_code == 404:
            return None
        answer = body_of(response, SERVICE)
        return answer if isinstance(answer, dict) else {}


class Offerings(Issuer):
    kind, name = ItemKind.OFFERING, IssuerName.DOTS
    settings: DotsSettings

    def request(self, order: Order, earned: Offering, external_unique_id: str,
                now: float) -> dict[str, Any]:
        fields: dict[str, Any] = {"quantity": earned.quantity, "external_unique_id": external_unique_id}
        if earned.limit_allocations:
            fields["limit_allocations"] = ",".join(str(a) for a in earned.limit_allocations)
        if earned.title:
            fields["title"] = earned.title[:255]
        if earned.recipient_name.strip():
            fields["name_on_certificate"] = earned.recipient_name.strip()[:255]
        if earned.valid_days:
            expires = on_the_grid(datetime.fromtimestamp(now, UTC) + timedelta(days=earned.valid_days))
            fields.update(expiration_date=expires.strftime("%Y-%m-%d"),
                          expiration_hour=expires.strftime("%H:%M:%S"))
        if earned.send_email_on_activation_date is not None:
            fields["send_email_on_activation_date"] = "yes" if earned.send_email_on_activation_date else "no"
        email = earned.recipient_email if valid_email(earned.recipient_email) else order.email
        if self.settings.offering_club == "mail" and valid_email(email):  # code-only refuses email
            fields["mail"] = email
        elif self.settings.offering_club == "remote_user_id":
            fields["remote_user_id"] = order.buyer_id
        if order.currency:
            fields["currency"] = order.currency[:255]
        return fields

    def create_one(self, item: Item) -> Issued:
        body = {**item.request, "app_token": self.settings.offering_app_token}
        if self.settings.langcode:
            body.setdefault("langcode", self.settings.langcode)
        try:
            return offering(self.http.json("POST", "/eco-club-offering/add", json=body))
        except Rejected:
            # Offerings don't say "already exists": the lookup by external id decides.
            found = self.find(item)
            if found is None:
                raise
            return found

    def find(self, item: Item) -> Issued | None:
        """The offering with exactly this external id (with its claims), or None."""
        found = self.record(item.external_unique_id)
        return None if found is None else offering(found)

    def record(self, external_unique_id: str) -> dict[str, Any] | None:
        """Dots.eco's offering with exactly this external id (never another's), or None."""
        path = f"/eco-club-offering/list/{quote(self.settings.offering_app_token, safe='')}"
        response = self.http.request("GET", path, allow=(403,),
                                     params={"external-unique-id": external_unique_id})
        if response.status_code == 403:
            if "not found" in message_of(response):
                return None
            raise error_for(response, SERVICE)
        answer = body_of(response, SERVICE)
        mine = [o for o in (answer if isinstance(answer, list) else []) if isinstance(o, dict)
                and o.get("external_unique_id") == external_unique_id]
        return mine[0] if mine else None
