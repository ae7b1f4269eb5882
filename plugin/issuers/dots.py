"""The Dots.eco certificate API: add, and get by external id."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from ..settings import DotsSettings
from .errors import Rejected, call, error_for

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
