"""Secrets at rest and keyed hashes of personal data.

Partner secrets must be usable (HMAC needs the plain secret) yet unreadable from a
database dump alone: they are sealed with AES-256-GCM under the server key.
Mobile numbers are never stored: only HMAC-SHA256 under the PII key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class SecretBox:
    def __init__(self, server_key: str) -> None:
        self._aead = AESGCM(hashlib.sha256(b"tanhui/secret-box/v1\x00" + server_key.encode()).digest())

    def seal(self, plaintext: str, context: str) -> str:
        """Encrypt; ``context`` (e.g. the key's id) is bound in, so a ciphertext cannot be moved."""
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return "v1:" + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, ciphertext: str, context: str) -> str:
        raw = base64.urlsafe_b64decode(ciphertext.removeprefix("v1:"))
        return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()


def keyed_hash(key: str, value: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()
