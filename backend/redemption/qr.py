"""The QR image of a redemption code, as PNG or SVG (segno: pure Python, no imaging library).

Error correction M and a 4-module quiet zone: what phone cameras and counter scanners read
reliably off a screen.
"""

from __future__ import annotations

import io

import segno


def png(token: str, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    segno.make_qr(token, error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def svg(token: str, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    segno.make_qr(token, error="m").save(buffer, kind="svg", scale=scale, border=4, xmldecl=False)
    return buffer.getvalue()
