"""Secrets at rest: a store's tokens are kept encrypted (Fernet), under a key from the settings."""
from __future__ import annotations

import base64

INFO = b"certhook store tokens"


class Sealer:
    """Seal and open text with a key derived from `token_key` (or `secret_key`): another key
    opens nothing, and says so with None (connect the store again), never a crash."""

    def __init__(self, secret: str):
        # Imported here: cryptography's core is 8 MB a process, and only a process that keeps a
        # Shopify app's tokens needs it (not the web processes of an admin-created app's shop).
        from cryptography.fernet import Fernet, InvalidToken  # noqa: PLC0415
        from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: PLC0415

        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(secret.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self._refused = (InvalidToken, ValueError)  # sealed with another key, or not sealed

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def open(self, sealed: str | None) -> str | None:
        if not sealed:
            return None
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except self._refused:
            return None
