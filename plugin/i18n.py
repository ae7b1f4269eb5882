"""The languages certhook speaks to shoppers, through flask-babel: English, German, French and
Spanish. The words are in translations/<lang>/LC_MESSAGES/messages.po, compiled to messages.mo
with `make translations` (a test keeps the two the same)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from babel.dates import format_date
from babel.numbers import format_decimal
from flask import Flask
from flask_babel import Babel

from .settings_schema import LANGUAGES

TRANSLATIONS = Path(__file__).with_name("translations")


def setup(app: Flask) -> None:
    """English unless a view forces another language (flask_babel.force_locale)."""
    Babel(app, default_locale=LANGUAGES[0], default_translation_directories=str(TRANSLATIONS))


def choose(wanted: Iterable[str | None], offered: tuple[str, ...]) -> str:
    """The first wanted language the shop offers (`de-CH` counts as `de`), else its first."""
    for tag in wanted:
        lang = (tag or "").replace("_", "-").split("-")[0].strip().lower()
        if lang in offered:
            return lang
    return offered[0] if offered else LANGUAGES[0]


def number(value: int, lang: str) -> str:
    """1,234 in English, 1.234 in German: as the language writes it."""
    return format_decimal(value, locale=lang)


def day(ts: float, lang: str) -> str:
    """A date as the language writes it in full ("6. Dezember 2026")."""
    return format_date(datetime.fromtimestamp(ts, UTC).date(), format="long", locale=lang)
