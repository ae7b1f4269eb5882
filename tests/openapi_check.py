"""Every answer of the JSON API and the webhooks that a test sees is checked against the OpenAPI
document certhook serves (installed as every Flask test client's class, in conftest)."""
from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from certhook.web.openapi import document

DOC = document()
ROUTES = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path) for path in DOC["paths"]]


def check(method: str, path: str, status: int, body: Any) -> None:
    """AssertionError if the answer is not one the document gives for this path and method."""
    documented = next((p for pattern, p in ROUTES if pattern.match(path)), None)
    operation = DOC["paths"].get(documented, {}).get(method.lower()) if documented else None
    if operation is None:
        return
    answer = operation["responses"].get(str(status))
    assert answer is not None, f"{method} {documented} answered {status}, which the document lacks"
    schema = answer.get("content", {}).get("application/json", {}).get("schema")
    if schema is not None:
        validator = Draft202012Validator({**schema, "components": DOC["components"]})
        errors = sorted(validator.iter_errors(body), key=str)
        assert not errors, f"{method} {path} {status}: {errors[0].message} at {list(errors[0].path)}"


class CheckedClient(FlaskClient):
    def open(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        response = super().open(*args, **kwargs)
        path = response.request.path
        if path.startswith(("/api/", "/webhooks/", "/impact/")) and response.is_json:
            check(response.request.method, path, response.status_code, response.get_json())
        return response
