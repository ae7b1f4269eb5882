"""The issuers certhook's settings make available, one per kind of item."""
from __future__ import annotations

from ..http import Pool
from ..settings import Settings
from ..statuses import ItemKind
from . import certfusion, dots
from .base import Issued, Issuer, Item

__all__ = ["Issued", "Issuer", "Item", "build"]


def build(settings: Settings, pool: Pool) -> dict[ItemKind, Issuer]:
    """Certificates always; offerings with an Eco Club app; CertFusion with its section."""
    dots_http = pool.get(("dots",), lambda: dots.client(settings.dots))
    out: dict[ItemKind, Issuer] = {ItemKind.CERTIFICATE: dots.Certificates(settings.dots, dots_http)}
    if settings.dots.offering_app_token:
        out[ItemKind.OFFERING] = dots.Offerings(settings.dots, dots_http)
    if settings.certfusion is not None:
        cf = settings.certfusion
        out[ItemKind.CERTFUSION] = certfusion.CertFusion(
            cf, pool.get(("certfusion",), lambda: certfusion.client(cf)))
    return out
