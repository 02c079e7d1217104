"""events: the outbox that every state change writes its webhook event to, in its own transaction.

It sits below ``redline.bank`` and ``redline.review`` (it imports neither), so a status change in the bank
and a decision in review announce themselves without importing each other. Delivery is
``redline.actions.worker``'s job; the endpoint registry is ``redline.actions.outbox``.
"""

from redline.events.outbox import EVENT_TYPES, emit, emit_entry_event, new_event_id

__all__ = ["EVENT_TYPES", "emit", "emit_entry_event", "new_event_id"]
