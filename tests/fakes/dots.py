"""A fake Dots.eco impact API that follows the reference: certificate add and get, eco club
offering add and list."""
from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote

from .base import ANSWERED, FakeServer, Handler

AUTH_TOKEN = "dots-auth-token"
APP_TOKEN = "6-c2b4554f"
APP_ID = 6
OFFERING_APP_TOKEN = "101-5653d113"
OFFERING_APP_ID = 101
OFFERING_MAX_LENGTHS = {"name_on_certificate": 255, "code": 255, "title": 255, "langcode": 12,
                        "currency": 255, "external_unique_id": 255}
IMPACTS = {14: "Save a Sea Turtle", 32: "Plant a Tree", 31: "Protect a Bee"}
OTHER_APPS_ALLOCATIONS = {99}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_LENGTHS = {"external_unique_id": 255, "remote_user_id": 191, "name_on_certificate": 255,
               "remote_user_email": 254, "certificate_design": 255, "certificate_info": 255,
               "langcode": 12, "currency": 255}


class FakeDots(FakeServer):
    # Faults count the create calls, certificates and offerings alike.
    FAULT_ANSWERS = {"500": (500, {"message": "Server Error"}, {})}

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.certificates: list[dict[str, Any]] = []
        self.by_external_id: dict[str, dict[str, Any]] = {}
        self.posts = 0
        self.gets = 0
        self.links: str | None = None  # where its certificate links point (default: this fake)
        self.answers: Counter[int] = Counter()
        self.out_of_balance = False
        self.slow_seconds = 0.0  # every POST creates, then answers this long after it arrived
        self.slow_at_once = self.most_slow_at_once = 0  # POSTs being held back by slow_seconds
        self.requests: list[dict[str, Any]] = []
        self.club = "code_only"  # the Eco Club app's type: code_only, mail or remote_user_id
        self.offerings: list[dict[str, Any]] = []
        self.offering_requests: list[dict[str, Any]] = []
        self.offering_posts = 0
        self.offering_lists = 0
        # The filter is optional and the reference's sample lists offerings with a null external
        # id: with this set, the list answers every offering of the app, whatever was asked.
        self.list_ignores_filter = False
        # Not in the references: the balance's answer is certhook's guess, read defensively
        self.balance: tuple[int, Any] = (200, {"balance": "250.00"})
        self.balance_asks = 0
        self.allocations: Any = None  # GET /allocations (not in the references): 404 until set

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v1"

    def count_for(self, external_unique_id: str) -> int:
        return sum(1 for c in self.certificates if c["external_unique_id"] == external_unique_id)

    def handle(self, request: Handler, method: str) -> None:
        path = request.path
        body = request.body()
        if method == "GET" and path.startswith("/certificate/"):
            return self.public_page(request, path)
        if request.headers.get("auth-token") != AUTH_TOKEN:
            return request.send_json(401, {"message": "Unauthenticated."})
        if method == "POST" and path == "/api/v1/certificate/add":
            return self.add(request, body)
        if method == "POST" and path == "/api/v1/eco-club-offering/add":
            return self.add_offering(request, body)
        if method == "GET" and path.startswith("/api/v1/eco-club-offering/list/"):
            return self.list_offerings(request, path.removeprefix("/api/v1/eco-club-offering/list/"))
        if method == "GET" and path == "/api/v1/allocations" and self.allocations is not None:
            return request.send_json(200, self.allocations)
        if method == "GET" and path.startswith("/api/v1/application-balance/"):
            with self.lock:
                self.balance_asks += 1
            if path.removeprefix("/api/v1/application-balance/") != APP_TOKEN:
                return request.send_json(403, {"message": "Application not found."})
            return request.send_json(*self.balance)
        m = re.fullmatch(r"/api/v1/certificate/([^/]+)/([^/]*)", path)
        if method == "GET" and m:
            return self.get(request, m.group(1), unquote(m.group(2)))
        request.send_json(404, {"message": "Not Found"})

    def add(self, request: Handler, raw: bytes) -> None:
        with self.lock:
            self.posts += 1
        if (fault := self.take_fault(request)) == ANSWERED:
            return
        try:
            data = json.loads(raw)
        except ValueError:
            return request.send_json(422, {"message": "Entity creation problem."})
        self.requests.append(data)
        status, answer = self.create(data)
        if fault == "drop" and status == 200:
            return request.drop()
        if fault == "empty" and status == 200:  # created, but the answer names nothing
            return request.send_json(200, {})
        if self.slow_seconds and status == 200:
            with self.lock:
                self.slow_at_once += 1
                self.most_slow_at_once = max(self.most_slow_at_once, self.slow_at_once)
            time.sleep(max(request.arrived + self.slow_seconds - time.monotonic(), 0))
            with self.lock:
                self.slow_at_once -= 1
        request.send_json(status, answer)

    def create(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        def reject(message: str) -> tuple[int, dict[str, Any]]:
            with self.lock:
                self.answers[422] += 1
            return 422, {"message": message}

        if d.get("app_token") != APP_TOKEN:
            return reject("The app_token is invalid.")
        for key, limit in MAX_LENGTHS.items():
            if key in d and d[key] is not None and len(str(d[key])) > limit:
                return reject(f"The maximum length of {key} is {limit} characters.")
        qty = d.get("impact_qty")
        if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
            return reject("You must provide a valid 'impact_qty' value to process.")
        if qty > 10**11:
            return reject(f"The maximum value of impact_qty is {10**11}.")
        alloc = d.get("allocation_id")
        if not isinstance(alloc, int) or isinstance(alloc, bool):
            return reject("You must provide a valid 'impact_type_id' or 'allocation_id' value to process.")
        if alloc > 10**10:
            return reject(f"The maximum value of allocation_id is {10**10}.")
        if alloc in OTHER_APPS_ALLOCATIONS:
            return reject("You must provide a valid 'allocation_id' value to process. "
                          "Given allocation can not be used with your application.")
        if alloc not in IMPACTS:
            return reject("You must provide valid 'impact_type_id' and/or 'allocation_id' values. "
                          "The Impact Type and/or - = Allocation does not exist.")
        if not isinstance(d.get("remote_user_id"), str) or not d["remote_user_id"]:
            return reject("You must provide a valid 'remote_user_id' value to process.")
        if "remote_user_email" in d and not EMAIL.match(str(d["remote_user_email"])):
            return reject("You must provide a valid email address for 'remote_user_email' "
                          "value to process.")
        if d.get("langcode", "en") not in ("en", "he"):
            return reject(f"Could not load language {d['langcode']} . Available languages: en, he.")
        with self.lock:
            eid = d.get("external_unique_id")
            if eid is not None and eid in self.by_external_id:
                self.answers[422] += 1
                return 422, {"message": "A certificate with this external_unique_id already "
                                        "exists in the system."}
            if self.out_of_balance:
                self.answers[429] += 1
                return 429, {"message": "This application is out of balance. Check the "
                                        "documentation or contact support."}
            token = str(uuid.uuid4())
            cert = {
                "certificate_id": f"{134411 + len(self.certificates)}-{APP_ID}-5",
                "external_unique_id": eid,
                # Served by this fake (below), so a browser in the tests never leaves the machine.
                "certificate_url": f"{self.links or self.url}/certificate/{token}",
                "certificate_image_url": f"{self.links or self.url}/certificate/img/{token}.png",
                "app_id": str(APP_ID), "app_name": "Dots.eco",
                "remote_user_id": d["remote_user_id"],
                "name_on_certificate": d.get("name_on_certificate"),
                "certificate_design": d.get("certificate_design"),
                "certificate_info": d.get("certificate_info"),
                "impact_qty": str(qty), "impact_type_id": "196",
                "impact_type_name": IMPACTS[alloc], "impact_status": None,
                "created_timestamp": str(int(self.clock())), "allocation_id": str(alloc),
                "country": "Indonesia", "geolocation": [{"lat": -8.142089, "lng": 114.654806}],
                "remote_user_email": d.get("remote_user_email"),
            }
            self.certificates.append(cert)
            if eid is not None:
                self.by_external_id[eid] = cert
            self.answers[200] += 1
        return 200, {k: v for k, v in cert.items() if k != "remote_user_email"}

    def get(self, request: Handler, app_id: str, eid: str) -> None:
        with self.lock:
            self.gets += 1
            cert = self.by_external_id.get(eid) if app_id == str(APP_ID) else None
        if not eid:
            return request.send_json(404, {"message": "No external_unique_id was provided."})
        if cert is None:
            return request.send_json(404, {"message": f"Certificate with App id '{app_id}' and "
                                                      f"External unique id '{eid}' was not found."})
        answer = {k: v for k, v in cert.items() if k not in ("external_unique_id", "remote_user_email")}
        request.send_json(200, {**answer, "certificate_header": "For saving 1 Sea-Turtle "
                                "hatchlings with Dots.eco", "greeting": "Thank you!"})

    def add_offering(self, request: Handler, raw: bytes) -> None:
        with self.lock:
            self.offering_posts += 1
        if (fault := self.take_fault(request)) == ANSWERED:
            return
        try:
            d = json.loads(raw)
        except ValueError:
            return request.send_json(422, {"message": "Entity creation problem."})
        self.offering_requests.append(d)
        status, answer = self.create_offering(d)
        if fault == "drop" and status == 200:
            return request.drop()
        request.send_json(status, answer)

    def create_offering(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if d.get("app_token") == APP_TOKEN:
            return 422, {"message": "Provided app is not of type Eco Club."}
        if d.get("app_token") != OFFERING_APP_TOKEN:
            return 422, {"message": "The app_token is invalid."}
        qty = d.get("quantity")
        if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
            return 422, {"message": "Required fields cannot be empty."}
        if qty > 10**11:
            return 422, {"message": f"The maximum value of quantity is {10**11}."}
        for key, limit in OFFERING_MAX_LENGTHS.items():
            if d.get(key) is not None and len(str(d[key])) > limit:
                return 422, {"message": f"The maximum length of {key} is {limit} characters."}
        if "mail" in d and self.club != "mail":
            return 422, {"message": "We cannot use email for this app."}
        if "remote_user_id" in d and self.club != "remote_user_id":
            return 422, {"message": "Entity creation problem."}
        for key in ("activation_hour", "expiration_hour"):
            if key in d and not re.fullmatch(r"\d\d:(00|15|30|45):00", str(d[key])):
                return 422, {"message": "Entity creation problem."}
        with self.lock:
            eid = d.get("external_unique_id")
            if eid is not None and any(o["external_unique_id"] == eid for o in self.offerings):
                return 422, {"message": "Entity creation problem."}
            if self.out_of_balance:
                return 429, {"message": "This application is out of balance. Check the "
                                        "documentation or contact support."}
            offering = {
                "uuid": str(uuid.uuid4()), "quantity": qty,
                "limit_allocations": d.get("limit_allocations"),
                "name_on_certificate": d.get("name_on_certificate"),
                "activation_date": d.get("activation_date"), "activation_hour": d.get("activation_hour"),
                "expiration_date": d.get("expiration_date"), "expiration_hour": d.get("expiration_hour"),
                "code": d.get("code") or f"e-{100000 + len(self.offerings)}",
                "mail": d.get("mail"), "title": d.get("title"),
                "max_claims_total": d.get("max_claims_total", 1),
                "max_claims_per_email": d.get("max_claims_per_email", "Unlimited"),
                "send_email_on_activation_date": d.get("send_email_on_activation_date", "no"),
                "remote_user_id": d.get("remote_user_id"),
                "claim_url": f"{self.url}/app/{OFFERING_APP_ID}/eco-club/claim",
                "external_unique_id": eid, "no_of_claims": 0,
            }
            self.offerings.append(offering)
        return 200, {k: v for k, v in offering.items() if k != "no_of_claims"}

    def list_offerings(self, request: Handler, rest: str) -> None:
        path, _, query = rest.partition("?")
        token, _, by_uuid = path.partition("/")
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        if not token:
            return request.send_json(403, {"message": "Please provide a app_token."})
        if token == APP_TOKEN:
            return request.send_json(403, {"message": "Provided app is not of type of Eco Club."})
        if token != OFFERING_APP_TOKEN:
            return request.send_json(403, {"message": "Please provide a valid app_token."})
        eid = None if self.list_ignores_filter else params.get("external-unique-id")
        with self.lock:
            self.offering_lists += 1
            found = [o for o in self.offerings
                     if (not by_uuid or o["uuid"] == by_uuid)
                     and (eid is None or o["external_unique_id"] == eid)]
        if (by_uuid or eid is not None) and not found:
            return request.send_json(403, {"message": "Eco Club Offerings not found."})
        request.send_json(200, [{**o, "quantity": str(o["quantity"])} for o in found])

    def public_page(self, request: Handler, path: str) -> None:
        """The certificate's public page and image, as Dots.eco serves them (no auth)."""
        if path.startswith("/certificate/img/"):
            data, kind = PNG, "image/png"
        else:
            data, kind = b"<!doctype html><title>Certificate</title><h1>Your certificate</h1>", "text/html"
        request.send_response(200)
        request.send_header("Content-Type", kind)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)


def _png(width: int = 120, height: int = 80) -> bytes:
    """A small green PNG, made here so the fake needs no files."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x2e\x8b\x57" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PNG = _png()
