"""The CertFusion API: lists, recipients (add, search, issue one or many). Bearer auth."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

from ..settings import CertFusionSettings
from .errors import Transient, call, error_for

SERVICE = "CertFusion"


class CertFusionClient:
    def __init__(self, settings: CertFusionSettings, timeout: tuple[float, float]):
        self.settings, self.timeout = settings, timeout
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {settings.api_token}",
                                     "Accept": "application/json"})

    def __enter__(self) -> CertFusionClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.session.close()

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = call(self.session, method, f"{self.settings.api_url.rstrip('/')}{path}", SERVICE,
                        self.timeout, **kwargs)
        if response.status_code >= 300:
            raise error_for(response, SERVICE)
        try:
            return response.json()
        except ValueError:
            raise Transient(f"{SERVICE}: the answer is not JSON", response.status_code,
                            response.text) from None

    def add_recipient(self, list_id: int, email: str, name: str,
                      custom_fields: dict[str, str]) -> dict[str, Any]:
        """Created, updated or skipped (identical data): all return the recipient."""
        body: dict[str, Any] = {"list_id": list_id, "email": email, "name": name}
        if custom_fields:
            body["custom_fields"] = custom_fields
        return dict(self._json("POST", "/api/recipients", json=body)["data"])

    def find_recipient(self, list_id: int, email: str) -> dict[str, Any] | None:
        """The recipient with exactly this email in this list (the search matches partially)."""
        page = 1
        while True:
            found = self._json("GET", "/api/recipients/search", params={"email": email, "page": page})
            for recipient in found.get("data", []):
                if recipient.get("list_id") == list_id and \
                        str(recipient.get("email", "")).lower() == email.lower():
                    return dict(recipient)
            if page >= int((found.get("meta") or {}).get("last_page") or 1):
                return None
            page += 1

    def issue(self, recipient_ids: list[int]) -> list[dict[str, Any]]:
        """Issue one recipient's certificate, or several with the batch call."""
        if len(recipient_ids) == 1:
            return [dict(self._json("POST", f"/api/recipients/{recipient_ids[0]}/issue")["recipient"])]
        return [dict(r) for r in self._json("POST", "/api/recipients/issue",
                                            json={"recipient_ids": recipient_ids})["recipients"]]

    def lists(self) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            found = self._json("GET", "/api/lists", params={"page": page})
            yield from found.get("data", [])
            if page >= int((found.get("meta") or {}).get("last_page") or 1):
                return
            page += 1
