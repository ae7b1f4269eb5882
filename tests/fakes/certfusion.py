"""A fake CertFusion API that follows the reference: lists, recipients (created, updated,
skipped), search, issuing one or many, Bearer auth, and its validation messages."""
from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .base import ANSWERED, FakeServer, Handler

API_TOKEN = "cf-test-token"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class FakeCertFusion(FakeServer):
    # Faults count the POSTs: recipient adds and issues.
    FAULT_ANSWERS = {"500": (500, {"status": False, "message": "An error occurred.", "error": "boom"}, {})}

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.lists = {3: {"id": 3, "name": "Courses", "custom_fields": ["course_name", "purchase_date"]},
                      4: {"id": 4, "name": "Workshops", "custom_fields": ["workshop"]}}
        self.recipients: list[dict[str, Any]] = []
        self.issues: list[int] = []  # one entry per recipient id issued (single or batch)
        self.batch_calls = 0
        self.adds = 0

    @property
    def api_url(self) -> str:
        return self.url

    def page(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"data": items, "links": {"first": None, "last": None, "prev": None, "next": None},
                "meta": {"current_page": 1, "from": 1, "last_page": 1, "per_page": 15,
                         "to": len(items), "total": len(items)}}

    def handle(self, request: Handler, method: str) -> None:
        raw = request.body()
        if request.headers.get("Authorization") != f"Bearer {API_TOKEN}":
            return request.send_json(401, {"message": "Unauthenticated."})
        url = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        fault = self.take_fault(request) if method == "POST" else None
        if fault == ANSWERED:
            return
        body = json.loads(raw) if raw else {}
        if method == "GET" and url.path == "/api/lists":
            return request.send_json(200, self.page(list(self.lists.values())))
        if method == "GET" and url.path == "/api/recipients/search":
            if not query.get("email"):
                return request.send_json(422, {"message": "The email field is required.",
                                               "errors": {"email": ["The email field is required."]}})
            found = [r for r in self.recipients if query["email"].lower() in r["email"].lower()
                     and (not query.get("status") or r["status"] == query["status"])]
            return request.send_json(200, self.page(found))
        if method == "POST" and url.path == "/api/recipients":
            status, answer = self.add(body)
        elif method == "POST" and url.path == "/api/recipients/issue":
            status, answer = self.issue_many(body)
        elif method == "POST" and (m := re.fullmatch(r"/api/recipients/(\d+)/issue", url.path)):
            status, answer = self.issue_one(int(m.group(1)))
        else:
            return request.send_json(404, {"message": "Not Found"})
        if fault == "drop" and status < 300:
            return request.drop()
        request.send_json(status, answer)

    def add(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.adds += 1
            lst = self.lists.get(d.get("list_id"))  # type: ignore[arg-type]
            if lst is None:
                return 404, {"status": False,
                             "message": "The list you are trying to access does not exist."}
            errors = {}
            if not EMAIL.match(str(d.get("email", ""))):
                errors["email"] = ["The email must be a valid email address."]
            if not d.get("name") or len(str(d["name"])) > 255:
                errors["name"] = ["The name field is required."]
            if errors:
                return 422, {"status": False, "message": "Validation failed.", "errors": errors}
            fields = d.get("custom_fields") or {}
            for key, value in fields.items():
                if key not in lst["custom_fields"]:
                    available = ", ".join(lst["custom_fields"])
                    return 422, {"status": False, "message": f"Custom field '{key}' is not available "
                                 f"for this certificate design. Available fields: {available}"}
                if not isinstance(value, str) or len(value) > 500:
                    return 422, {"status": False, "message": "Validation failed.",
                                 "errors": {f"custom_fields.{key}": ["Must be a string of at most 500."]}}
            existing = next((r for r in self.recipients if r["list_id"] == lst["id"]
                             and r["email"].lower() == d["email"].lower()), None)
            if existing is None:
                recipient = {"id": len(self.recipients) + 1, "list_id": lst["id"],
                             "email": d["email"], "name": d["name"], "status": "draft",
                             "uuid": str(uuid.uuid4()), "issued_date": None, "custom_fields": fields}
                self.recipients.append(recipient)
                return 201, {"status": True, "message": "Recipient created successfully.",
                             "data": {**recipient, "action": "created"}}
            if existing["custom_fields"] == fields and existing["name"] == d["name"]:
                return 200, {"status": True,
                             "message": "Recipient already exists with identical data.",
                             "data": {**existing, "action": "skipped"}}
            existing.update(name=d["name"], custom_fields=fields)
            return 200, {"status": True, "message": "Recipient updated with new custom field data.",
                         "data": {**existing, "action": "updated"}}

    def _issue(self, recipient: dict[str, Any]) -> dict[str, Any]:
        issued = datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="seconds")
        recipient.update(status="issued", issued_date=issued)
        self.issues.append(recipient["id"])
        return dict(recipient)

    def issue_one(self, recipient_id: int) -> tuple[int, dict[str, Any]]:
        with self.lock:
            recipient = next((r for r in self.recipients if r["id"] == recipient_id), None)
            if recipient is None:
                return 404, {"status": False, "message": "Recipient not found or you do not "
                             "have access to this recipient."}
            return 200, {"status": True, "recipient": self._issue(recipient)}

    def issue_many(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        ids = d.get("recipient_ids")
        with self.lock:
            self.batch_calls += 1
            found = [r for r in self.recipients if isinstance(ids, list) and r["id"] in ids]
            if not isinstance(ids, list) or len(found) != len(ids):
                return 422, {"status": False, "message": "Validation failed.",
                             "errors": {"recipient_ids": ["The selected recipient_ids is invalid."]}}
            return 200, {"status": True, "recipients": [self._issue(r) for r in found]}
