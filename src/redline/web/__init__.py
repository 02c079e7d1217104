"""Survivor portal and operator console (static pages + the routes that serve them)."""

from __future__ import annotations

from fastapi import FastAPI


def register_web(app: FastAPI) -> None:
    """Mount the web pages on ``app``. Called by the API's app factory."""
