"""In real headless Chromium (Debian's), driven by Playwright: what a merchant and a customer see."""
from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from .fakes.dots import FakeDots
from .fakes.shopify import FakeShopify
from .fakes.shopify_app import CLIENT_ID, CLIENT_SECRET
from .helpers import (
    ADMIN_TOKEN,
    AUTH,
    Serve,
    free_port,
    order_payload,
    signed_shopify,
    wait_for,
    write_config,
)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# No background traffic: this machine reaches nothing outside, and the tests need nothing.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions"]

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = None  # type: ignore[assignment]


def _unavailable() -> str | None:
    if sync_playwright is None:
        return "playwright is not installed"
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    missing = _unavailable()
    if missing:
        if os.environ.get("CERTHOOK_REQUIRE_BROWSER"):
            pytest.fail(f"browser tests are required here, but {missing}")
        pytest.skip(missing)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """certhook serve on SQLite with one order done and one failed, and its fakes."""
    tmp = tmp_path_factory.mktemp("browser")
    dots, shopify = FakeDots(), FakeShopify()
    port = free_port()
    config = write_config(tmp, f"sqlite:///{tmp / 'certhook.db'}", dots.api_url, shopify.api_url,
                          public_url=f"http://127.0.0.1:{port}", retry_base_seconds=0.1,
                          retry_max_seconds=0.2, max_attempts=2,
                          shop={"budget": {"allocations": {14: 10}, "warn_at": 0.2}})
    server = Serve(config, port)
    server.start()

    def deliver(order_id: int) -> None:
        body, headers = signed_shopify(order_payload(order_id=order_id, name=f"#{order_id}"))
        assert requests.post(f"{server.url}/webhooks/shopify", data=body, headers=headers).ok

    def status(order_id: int) -> str:
        return requests.get(f"{server.url}/api/orders/acme/{order_id}", headers=AUTH).json()["status"]

    try:
        deliver(6001)
        wait_for(lambda: status(6001) == "done", 30)
        dots.fail_next(*["500"] * 4)  # two tries for each of its two certificates
        deliver(6002)
        wait_for(lambda: status(6002) == "failed", 30)
        ARTIFACTS.mkdir(exist_ok=True)
        yield {"url": server.url, "dots": dots, "status": status}
    finally:
        server.stop()
        dots.close()
        shopify.close()


def sign_in(page: Page, url: str) -> None:
    page.goto(f"{url}/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Orders")).to_be_visible()


def image_loaded(page: Page, selector: str) -> bool:
    return page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0")


def test_sign_in_search_and_open_an_order(browser: Browser, site: dict[str, Any]):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, site["url"])
    page.get_by_label("Search").fill("#6001")
    page.get_by_role("button", name="Show").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    page.get_by_role("link", name="#6001").click()
    expect(page.get_by_role("heading", name=re.compile("Order #6001"))).to_be_visible()
    cert = site["dots"].certificates[0]
    expect(page.locator(f'a[href="{cert["certificate_url"]}"]')).to_be_visible()
    page.wait_for_function("[...document.images].every(i => i.complete)")
    assert image_loaded(page, f'img[src="{cert["certificate_image_url"]}"]')
    expect(page.get_by_text("written onto the order")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "order.png"), full_page=True)
    page.close()


def test_retry_a_failed_order_until_it_is_done(browser: Browser, site: dict[str, Any]):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, site["url"])
    page.goto(f"{site['url']}/orders/acme/6002")
    expect(page.locator("h1 .status")).to_have_text("failed")
    expect(page.get_by_text("Dots.eco: Server Error").first).to_be_visible()
    page.get_by_role("button", name="Retry what failed").click()
    expect(page.get_by_role("status")).to_contain_text("Queued 2 item(s) again.")
    wait_for(lambda: site["status"](6002) == "done", 30)
    page.reload()
    expect(page.locator("h1 .status")).to_have_text("done")
    page.screenshot(path=str(ARTIFACTS / "retried.png"), full_page=True)
    page.close()


def test_the_customer_page_on_a_phone(browser: Browser, site: dict[str, Any]):
    url = requests.get(f"{site['url']}/api/orders/acme/6001", headers=AUTH).json()["customer_url"]
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(url)
    expect(page.get_by_role("heading", name=re.compile("did some good"))).to_be_visible()
    expect(page.get_by_text("2 × Save a Sea Turtle, 2 × Plant a Tree")).to_be_visible()
    expect(page.get_by_role("link", name="View your certificate")).to_have_count(2)
    page.wait_for_function("[...document.images].every(i => i.complete)")
    assert page.evaluate("[...document.images].every(i => i.naturalWidth > 0)")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(ARTIFACTS / "customer-phone.png"), full_page=True)
    context.close()


def test_the_budget_warning_and_the_balance_on_the_dashboard(browser: Browser, site: dict[str, Any]):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, site["url"])
    expect(page.get_by_text(re.compile(r"Dots\.eco balance: 250\.00"))).to_be_visible()
    alert = page.get_by_role("alert", name="Needs attention")
    expect(alert).to_contain_text(re.compile(r"acme: monthly budget for allocation 14: \d+ of 10 used"))
    page.goto(f"{site['url']}/impact")
    expect(page.get_by_role("heading", name="Monthly budgets, this month")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "budget.png"), full_page=True)
    page.close()


def test_install_a_clients_store_through_shopifys_authorize_page(browser: Browser, tmp_path: Path):
    """/shopify/install → the store's authorize page → the callback's page, in a real browser:
    the state cookie travels with it, and the store ends up connected."""
    dots, shopify = FakeDots(), FakeShopify()
    port = free_port()
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'certhook.db'}", dots.api_url,
                          shopify.api_url, public_url=f"http://127.0.0.1:{port}",
                          shop={"access_token": "", "webhook_secret": "", "client_id": CLIENT_ID,
                                "client_secret": CLIENT_SECRET, "connect": "authorization_code"})
    server = Serve(config, port)
    server.start()
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{server.url}/shopify/install?shop=acme.myshopify.com")
        expect(page.get_by_role("heading", name="Install the app on acme.myshopify.com")).to_be_visible()
        expect(page.get_by_text("read_orders,write_orders")).to_be_visible()
        page.get_by_role("link", name="Install app").click()
        expect(page.get_by_role("heading", name="acme is connected")).to_be_visible()
        expect(page.get_by_text("with the scopes read_orders,write_orders")).to_be_visible()
        # The fake, like Shopify, takes no http:// address: the page says so instead of hiding it
        expect(page.get_by_text(re.compile("orders/paid.*Address protocol http:// is not supported"))
               ).to_be_visible()
        expect(page.get_by_text(re.compile("then run certhook shopify connect"))).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "shopify-installed.png"), full_page=True)
        page.close()
        assert shopify.grants == ["code"]
    finally:
        server.stop()
        dots.close()
        shopify.close()


SNIPPETS = Path(__file__).resolve().parents[1] / "storefront" / "snippets"


class ForeignSite:
    """Another origin (another port): static pages, and an address that never answers in time."""

    def __init__(self, pages: dict[str, str]):
        class Page(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/hang":
                    time.sleep(5)
                body = pages.get(self.path, "").encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *_: None  # type: ignore[method-assign]  # a browser gives up on /hang
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_from_certhook_init_to_sample_orders_on_the_dashboard(browser: Browser, tmp_path: Path):
    """certhook init, certhook serve, then in the browser: sign in, the empty dashboard shows how
    to connect the store, and Send sample orders lists what each would earn."""
    from click.testing import CliRunner  # noqa: PLC0415

    from certhook.cli import main  # noqa: PLC0415

    port = free_port()
    result = CliRunner().invoke(main, ["init", "--dir", str(tmp_path), "--yes", "--domain",
                                       "acme.myshopify.com", "--public-url", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 0, result.output
    token = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines())
    server = Serve(tmp_path / "certhook.yaml", port)
    server.start()
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{server.url}/")
        page.get_by_label("Admin token").fill(token["CERTHOOK_ADMIN_TOKEN"])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Get started")).to_be_visible()
        expect(page.get_by_text("No webhook received yet.")).to_be_visible()
        expect(page.get_by_text(f"{server.url}/shopify/callback")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "first-steps.png"), full_page=True)
        page.get_by_role("button", name="Send sample orders").click()
        expect(page.get_by_role("status")).to_contain_text("3 sample orders sent to acme")
        wait_for(lambda: len(requests.get(f"{server.url}/api/orders?status=skipped", headers={
            "Authorization": f"Bearer {token['CERTHOOK_ADMIN_TOKEN']}"}).json()["data"]) == 3, 30)
        page.reload()
        rows = page.locator("tbody tr")
        expect(rows).to_have_count(3)
        expect(rows.first).to_contain_text("shadow mode: would issue")
        page.screenshot(path=str(ARTIFACTS / "sample-orders.png"), full_page=True)
        page.close()
    finally:
        server.stop()


def foreign_pages(certhook: str) -> dict[str, str]:
    """The snippets as another site puts them on its pages, pointed at this certhook."""
    badges = "".join(f'<img src="{certhook}/impact/acme.svg?lang={lang}&theme={theme}" alt="{lang}" '
                     'width="320">' for theme in ("light", "dark") for lang in ("en", "de", "fr", "es"))
    earns = (SNIPPETS / "earns.html").read_text().replace("https://certhook.example.com", certhook)
    hanging = re.sub(r'data-certhook="[^"]+"', 'data-certhook="/hang"', earns)
    head = "<!doctype html><meta name=viewport content='width=device-width'>"
    return {"/badges": f"{head}<body>{badges}</body>",
            "/product": f"<!doctype html><h1>Green hoodie</h1>{earns}",
            "/slow": f"<!doctype html><h1>Green hoodie</h1>{hanging}"}


@pytest.fixture(scope="module")
def storefront_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """certhook serve with a storefront shop in four languages and two orders done (one of a
    German customer), and a page of another origin with the snippets on it."""
    tmp = tmp_path_factory.mktemp("storefront")
    dots, shopify = FakeDots(), FakeShopify()
    port = free_port()
    config = write_config(tmp, f"sqlite:///{tmp / 'certhook.db'}", dots.api_url, shopify.api_url,
                          public_url=f"http://127.0.0.1:{port}",
                          shop={"storefront": {"enabled": True, "languages": ["en", "de", "fr", "es"],
                                               "name": "Acme Outfitters", "accent": "#0b6e4f"}})
    server = Serve(config, port)
    server.start()
    foreign = None
    try:
        for order_id, locale in ((6801, "en"), (6802, "de")):
            body, headers = signed_shopify(order_payload(order_id=order_id, customer_locale=locale))
            assert requests.post(f"{server.url}/webhooks/shopify", data=body, headers=headers).ok
        done = lambda o: requests.get(f"{server.url}/api/orders/acme/{o}", headers=AUTH).json()["status"]  # noqa: E731
        wait_for(lambda: done(6801) == done(6802) == "done", 30)
        foreign = ForeignSite(foreign_pages(server.url))
        ARTIFACTS.mkdir(exist_ok=True)
        yield {"url": server.url, "foreign": foreign.url}
    finally:
        if foreign:
            foreign.close()
        server.stop()
        dots.close()
        shopify.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_the_badges_in_every_language_and_theme_on_another_sites_page(
        browser: Browser, storefront_site: dict[str, Any], width: int):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{storefront_site['foreign']}/badges")
    page.wait_for_function("[...document.images].every(i => i.complete)")
    assert page.evaluate("[...document.images].every(i => i.naturalWidth >= 320)")
    assert page.evaluate("document.images.length") == 8
    page.screenshot(path=str(ARTIFACTS / f"badges-{width}.png"), full_page=True)
    page.close()


def test_the_product_snippet_on_another_sites_page_and_when_certhook_is_slow(
        browser: Browser, storefront_site: dict[str, Any]):
    page = browser.new_page(viewport={"width": 375, "height": 700})
    page.goto(f"{storefront_site['foreign']}/product")
    expect(page.locator(".certhook-earns")).to_have_text("Saves 1 sea turtle, Plants 1 tree")
    page.screenshot(path=str(ARTIFACTS / "snippet-product.png"), full_page=True)
    page.goto(f"{storefront_site['foreign']}/slow")
    expect(page.get_by_role("heading", name="Green hoodie")).to_be_visible()
    page.wait_for_timeout(2000)  # past the snippet's 1.5 s: it gave up, and shows nothing
    assert page.locator(".certhook-earns").text_content() == ""
    page.close()


def test_the_customer_page_in_german_on_a_phone(browser: Browser, storefront_site: dict[str, Any]):
    url = requests.get(f"{storefront_site['url']}/api/orders/acme/6802", headers=AUTH).json()["customer_url"]
    context = browser.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)
    page = context.new_page()
    page.goto(url)
    expect(page.get_by_role("heading", name=re.compile("hat Gutes getan"))).to_be_visible()
    expect(page.get_by_text("Acme Outfitters")).to_be_visible()
    expect(page.get_by_role("link", name="Zertifikat ansehen")).to_have_count(2)
    assert page.evaluate("document.documentElement.lang") == "de"
    page.screenshot(path=str(ARTIFACTS / "customer-de.png"), full_page=True)
    context.close()
