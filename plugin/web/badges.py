"""The impact badges: /impact/{shop}.svg (the shop's leading total) and /impact/{shop}/earns.svg
(what a product earns), in the shop's languages, light or dark. An SVG made from a template with
escaped text: no script, no external reference; nothing at all (zero size) while a budget holds
the shop's orders, or when there is nothing to say."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import force_locale, gettext

from .. import i18n, storefront
from ..context import Certhook
from ..settings import Shop
from .feed import earned, public, recent, shop_of

bp = Blueprint("badges", __name__, template_folder="templates")
NOTHING = b'<svg xmlns="http://www.w3.org/2000/svg" width="0" height="0"/>'
THEMES = {"light": {"background": "#ffffff", "border": "#d0d7de", "text": "#1f2328", "muted": "#59636e",
                    "accent": "#0b6e4f"},
          "dark": {"background": "#0d1117", "border": "#30363d", "text": "#e6edf3", "muted": "#9198a1",
                   "accent": "#3fb950"}}


def _look(shop: Shop) -> tuple[str, dict[str, str]]:
    """The language (?lang= among the shop's) and the colours (?theme=, the shop's accent)."""
    theme = request.args.get("theme", "light")
    if theme not in THEMES:
        abort(400, "theme: must be light or dark")
    colours = {**THEMES[theme], **({"accent": shop.storefront.accent} if shop.storefront.accent else {})}
    return i18n.choose([request.args.get("lang")], shop.storefront.languages), colours


def _badge(headline: str, byline: str, colours: dict[str, str]) -> bytes:
    width = max(320, int(48 + 16 * 0.6 * max(len(headline), len(byline) * 13 / 16) + 20))
    return render_template("badge.svg", headline=headline, byline=byline, colours=colours,
                           width=width).encode()


@bp.get("/impact/<shop_id>.svg")
def total(shop_id: str) -> Response:
    ch: Certhook = current_app.extensions["certhook"]
    shop = shop_of(ch, shop_id)
    lang, colours = _look(shop)

    def make(feed: dict[str, Any]) -> bytes:
        if feed["paused"] or not feed["totals"]:
            return NOTHING
        with force_locale(lang):
            return _badge(storefront.headline(feed, lang), gettext("with our customers"), colours)

    data, etag = recent().answer(ch, shop, ("svg", lang, colours["background"]), make)
    return public(data, "image/svg+xml", etag)


@bp.get("/impact/<shop_id>/earns.svg")
def earns(shop_id: str) -> Response:
    ch: Certhook = current_app.extensions["certhook"]
    shop = shop_of(ch, shop_id)
    lang, colours = _look(shop)
    answer = earned(ch, shop)
    if answer["paused"] or not answer["earns"]:
        return public(NOTHING, "image/svg+xml")
    with force_locale(lang):
        data = _badge(storefront.text_of(answer["earns"], lang), gettext("with this purchase"), colours)
    return public(data, "image/svg+xml")
