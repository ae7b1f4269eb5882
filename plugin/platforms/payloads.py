"""The one check at the door: what a store sends, read field by field through marshmallow schemas.

Ids are positive whole numbers (a number or a string of digits), kept as digits; quantities are
0 to 1,000,000; amounts are finite decimals under 10^12; text has no NUL and no lone surrogate;
a flag is set only when it is literally true. Anything else is a PayloadError that names the
field and never repeats its value. Fields certhook does not read are not looked at.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields

from ..orders import PayloadError

MAX_QUANTITY = 1_000_000
AMOUNT_DIGITS = 12  # amounts are under 10^12
MAX_ID_DIGITS = 64


class Id(fields.Field):
    """A positive whole number as text ("5551234"); with `zero`, 0 and null mean none ("")."""

    def __init__(self, zero: bool = False, **kwargs: Any):
        if zero:
            kwargs["load_default"] = ""
        super().__init__(allow_none=zero, **kwargs)
        self.zero = zero

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            digits = str(value)
        elif isinstance(value, str) and value.isascii() and value.isdigit():
            digits = value.lstrip("0") or "0"
        else:
            raise ValidationError("is not a whole number")
        if digits == "0" and self.zero:
            return ""
        if digits == "0" or digits.startswith("-") or len(digits) > MAX_ID_DIGITS:
            raise ValidationError(f"is not a positive whole number of at most {MAX_ID_DIGITS} digits")
        return digits

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        return "" if value is None and self.zero else super().deserialize(value, attr, data, **kwargs)


class Quantity(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_QUANTITY:
            return value
        raise ValidationError(f"is not a whole number from 0 to {MAX_QUANTITY}")


def amount(value: Any) -> Decimal:
    """A money amount sent as a string or a number ("409.94", 409.94, 6); ValueError if not."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("is not an amount")
    try:
        parsed = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("is not an amount") from None
    if not parsed.is_finite() or (parsed and parsed.adjusted() >= AMOUNT_DIGITS):
        raise ValueError(f"is not a finite amount under 10^{AMOUNT_DIGITS}")
    return parsed


class Money(fields.Field):
    """An amount; null or "" is none (None)."""

    def __init__(self, **kwargs: Any):
        super().__init__(allow_none=True, load_default=None, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal | None:
        if value == "":
            return None
        try:
            return amount(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


def clean(text: str) -> str:
    """Text as it was sent, if it is text a database and a log can hold."""
    if "\x00" in text:
        raise ValidationError("contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("is not valid Unicode (a lone surrogate)") from None
    return text


class Text(fields.Field):
    """Text; a number is taken as its digits, null as ""."""

    def __init__(self, **kwargs: Any):
        if not kwargs.get("required"):
            kwargs["load_default"] = ""
        super().__init__(allow_none=True, **kwargs)

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        return "" if value is None else super().deserialize(value, attr, data, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str):
            return clean(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise ValidationError("is not text")


class Scalar(Text):
    """A value that may be anything (a plugin's meta): its text, or None for a list or object."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        return None if isinstance(value, list | dict | bool) else super()._deserialize(value, attr, data)


class Flag(fields.Field):
    """True only when the store sent the JSON literal true."""

    def __init__(self, **kwargs: Any):
        super().__init__(allow_none=True, load_default=False, **kwargs)

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> bool:
        return value is True


class Door(Schema):
    class Meta:
        unknown = EXCLUDE


class Objects(fields.List):
    """A list of objects read by `schema`; null or missing is an empty list."""

    def __init__(self, schema: type[Schema], **kwargs: Any):
        super().__init__(fields.Nested(schema), load_default=list, **kwargs)

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        return [] if value is None else super().deserialize(value, attr, data, **kwargs)


def where(errors: Any) -> str:
    """marshmallow's nested errors as `line_items.0.quantity: what is wrong`, the first one."""
    path = []
    while isinstance(errors, dict):
        key = sorted(errors, key=str)[0]
        if key != "_schema":  # the object itself, not one of its fields
            path.append(str(key))
        errors = errors[key]
    message = errors[0] if isinstance(errors, list) and errors else str(errors)
    if message == "Unknown field.":  # a key the sender chose: named by where it is, not by itself
        path, message = path[:-1], "has a key that is not this topic's"
    message = {"Not a valid list.": "is not a list", "Invalid input type.": "is not an object",
               "Missing data for required field.": "is missing",
               "Field may not be null.": "is missing"}.get(message, message)
    return f"{'.'.join(path)}: {message}"


def load(schema: Schema, payload: Any) -> dict[str, Any]:
    """The payload as the schema reads it, or PayloadError naming the first bad field."""
    try:
        return schema.load(payload)
    except ValidationError as exc:
        raise PayloadError(where(exc.messages)) from None
