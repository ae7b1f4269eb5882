"""In real headless Chromium (Debian's), driven by Playwright: what a merchant and a customer see."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
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
