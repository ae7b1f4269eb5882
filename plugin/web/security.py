"""What every answer carries for the browser's sake, and the proxy hops certhook believes.

Behind `trusted_proxies` proxies (1 behind nginx), X-Forwarded-For/-Proto/-Host/-Port say who
the client is and whether it came over https; with 0 they are ignored, as anyone can send them.
"""
from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

# No inline script or style anywhere: the pages use one stylesheet and no script at all. The
# certificate images come from the issuer's own host (over https, or http on a test bench).
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' https: http:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # A customer page's address is its key: never send it to the certificate sites it links to.
    "Referrer-Policy": "no-referrer",
}
HSTS = "max-age=31536000"


def secure(app: Flask, trusted_proxies: int) -> None:
    if trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted_proxies,  # type: ignore[method-assign]
                                x_proto=trusted_proxies, x_host=trusted_proxies,
                                x_port=trusted_proxies)

    @app.after_request
    def headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
