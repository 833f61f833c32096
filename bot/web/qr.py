"""QR codes for touchpoint links, by segno (pure Python, no dependencies, ISO/IEC 18004)."""

from __future__ import annotations

import io

import segno


def svg(data: str, *, title: str | None = None, scale: int = 8) -> str:
    """A scalable QR code (for print: it stays sharp at any size); quiet zone of four modules."""
    out = io.BytesIO()
    qr = segno.make(data, error="m", micro=False)
    qr.save(out, kind="svg", scale=scale, border=4, xmldecl=False, title=title, unit=None)
    return out.getvalue().decode()


def png(data: str, *, scale: int = 10) -> bytes:
    out = io.BytesIO()
    segno.make(data, error="m", micro=False).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
