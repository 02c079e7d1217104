"""Mirrors: a Redline instance keeping a local, read-only copy of a hub's banks from its signed feed, so
platforms match uploads locally (docs/MIRRORS.md)."""
