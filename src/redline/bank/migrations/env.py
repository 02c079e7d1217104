"""Alembic environment: runs on the connection that ``Database.upgrade`` passes in."""

from __future__ import annotations

from alembic import context

# Every module that declares tables, so autogenerate compares against the whole schema.
import redline.actions.models
import redline.bank.grants
import redline.bank.sharing
import redline.evidence.models
import redline.interop.models
import redline.mirror.models
import redline.removal.models
import redline.retro.models
import redline.review.models  # noqa: F401
from redline.bank.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
