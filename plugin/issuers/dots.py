"""The Dots.eco certificate API: add, and get by external id."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from ..settings import DotsSettings
from .errors import Rejected, call, error_for, message_of

SERVICE = "Dots.eco"
ALREADY_EXISTS = "already exists"
# What Dots.eco accepts as remote_user_email; anything else is left out rather than rejected.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class AlreadyExists(Rejected):
    """A certificate with this external_unique_id exists: look it up and adopt it."""


@dataclass(frozen=True)
class Certificate:
    certificate_id: str
    certificate_url: str
    certificate_image_url: str
    impact: str = ""

    @classmethod
    def from_answer(cls, body: dict[str, Any]) -> Certificate:
        return cls(
            certificate_id=str(body.get("certificate_id") or ""),
            certificate_url=str(body.get("certificate_url") or ""),
            certificate_image_url=str(body.get("certificate_image_url") or ""),
            impact=str(body.get("impact_type_name") or ""),
        )


def valid_email(value: str) -> bool:
    return len(value) <= 254 and bool(_EMAIL.match(value))


class DotsClient:
    def __init__(self, settings: DotsSettings):
        self.settings = settings
        self._local = threading.local()
        self._sessions: list[requests.Session] = []

    @property
    def session(self) -> requests.Session:
        # requests.Session is not safe to share between threads: one per worker thread.
        if not hasattr(self._local, "session"):
            session = requests.Session()
            session.headers.update({"auth-token": self.settings.auth_token,
                                    "Accept": "application/json"})
            self._local.session = session
            self._sessions.append(session)
        return self._local.session

    def close(self) -> None:
        for session in self._sessions:
            session.close()
        self._sessions.clear()

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.settings.connect_timeout, self.settings.read_timeout)

    def add_certificate(self, fields: dict[str, Any]) -> Certificate:
        body = {"app_token": self.settings.app_token, **fields}
        if self.settings.send_certificate_by_email:
            body["send_certificate_by_email"] = "yes"
        if self.settings.langcode:
            body["langcode"] = self.settings.langcode
        response = call(self.session, "POST", f"{self.settings.api_url}/certificate/add",
                        SERVICE, self.timeout, json=body)
        if response.status_code == 200:
            return Certificate.from_answer(response.json())
        error = error_for(response, SERVICE)
        if response.status_code == 422 and ALREADY_EXISTS in error.message:
            raise AlreadyExists(error.message, error.status, error.body)
        raise error

    def add_offering(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Create an eco club offering (a gift with a redeem code) with the Eco Club app."""
        body = {"app_token": self.settings.offering_app_token, **fields}
        if self.settings.langcode:
            body.setdefault("langcode", self.settings.langcode)
        response = call(self.session, "POST", f"{self.settings.api_url}/eco-club-offering/add",
                        SERVICE, self.timeout, json=body)
        if response.status_code == 200:
            return dict(response.json())
        raise error_for(response, SERVICE)

    def find_offering(self, external_unique_id: str) -> dict[str, Any] | None:
        """The offering with this external id (with its no_of_claims), or None."""
        token = quote(self.settings.offering_app_token, safe="")
        url = f"{self.settings.api_url}/eco-club-offering/list/{token}"
        response = call(self.session, "GET", url, SERVICE, self.timeout,
                        params={"external-unique-id": external_unique_id})
        if response.status_code == 403 and "not found" in message_of(response):
            return None
        if response.status_code != 200:
            raise error_for(response, SERVICE)
        found = [o for o in response.json() if isinstance(o, dict)
                 and o.get("external_unique_id") in (external_unique_id, None)]
        return found[0] if found else None

    def get_certificate(self, external_unique_id: str) -> Certificate | None:
        """The certificate with this external id, or None if Dots.eco has none."""
        url = (f"{self.settings.api_url}/certificate/{self.settings.app_id}/"
               f"{quote(external_unique_id, safe='')}")
        response = call(self.session, "GET", url, SERVICE, self.timeout)
        if response.status_code == 200:
            return Certificate.from_answer(response.json())
        if response.status_code == 404:
            return None
        raise error_for(response, SERVICE)
