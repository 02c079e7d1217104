"""Survivor portal: static pages whose scripts hash files on the survivor's device.

Everything under ``static/`` is served as is: HTML, CSS, ES modules (PDQ, MD5, SHA-256, the hashing
worker, the page logic) and the message catalogs under ``static/locales/``. No templates, no inline script or
style, so the API's Content-Security-Policy (``script-src 'self'``, ``style-src 'self'``) holds. The page
talks to the API only through ``POST /v1/cases``, ``GET /v1/cases/{id}``, ``POST /v1/cases/{id}/withdraw``
and ``GET /v1/help-services``; its intake page for flaggers (``intake.html``, docs/INTAKE.md) only through
``POST /v1/intake/cases``, ``POST /v1/intake/collections`` (with the flag key) and ``GET /v1/help-services``.
The removal request form (``removal.html``, ``removal.js``, its catalogs in
``static/locales/removal/``; docs/REMOVAL.md) reuses the same hashing modules and talks only to
``GET /v1/removal/jurisdictions``, ``POST /v1/removal-requests`` and ``GET /v1/removal-requests/{number}``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"


def register_web(app: FastAPI) -> None:
    """Mount the portal at ``/`` on ``app``.

    Call this *after* every other route and mount (the console's included): a mount at ``/`` answers any
    path no earlier route claimed.
    """
    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="portal")
