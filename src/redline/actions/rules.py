"""Which action a match gets: operator rules by bank, signal type and distance band, then built-in defaults.

Why bands: the closer a perceptual match, the less likely it is a false positive. The defaults follow the
common practice for PDQ: an exact hash or PDQ distance ≤ 8 is the same picture (block now, and queue for a
human to confirm); a PDQ distance up to the bank's threshold may be a different picture that looks alike
(queue for review only — perceptual matches go to a human by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.actions.models import ACTIONS, ActionRule
from redline.signals.types import SIGNAL_TYPES

#: PDQ distances up to this are treated as the same image by the default rules.
NEAR_EXACT_PDQ = 8


class RuleError(ValueError):
    """An action rule that cannot be stored."""


@dataclass(frozen=True)
class Rule:
    bank_id: int | None
    signal_type: str | None
    min_distance: int
    max_distance: int
    action: str
    priority: int = 100

    def applies(self, bank_id: int, signal_type: str, distance: int) -> bool:
        return (
            (self.bank_id is None or self.bank_id == bank_id)
            and (self.signal_type is None or self.signal_type == signal_type)
            and self.min_distance <= distance <= self.max_distance
        )


def default_action(signal_type: str, distance: int) -> str:
    kind = SIGNAL_TYPES.get(signal_type)
    if kind is None or kind.distance_metric == "exact" or distance <= NEAR_EXACT_PDQ:
        return "block_and_review"
    return "review"


#: A bank whose ``default_action`` is this leaves matches to the built-in distance bands.
BANK_DEFAULT = "review"


def decide(
    rules: Sequence[Rule], bank_id: int, signal_type: str, distance: int, bank_action: str = BANK_DEFAULT
) -> str:
    """The action for one match, in order of precedence: the first applicable operator rule (lowest
    priority number first); else the bank's own ``default_action`` when the operator set one other than
    ``review``; else the built-in distance bands."""
    for rule in sorted(rules, key=lambda r: (r.priority, r.bank_id is None, r.max_distance - r.min_distance)):
        if rule.applies(bank_id, signal_type, distance):
            return rule.action
    # An action not in ACTIONS can only be one stored before banks' actions were checked: ignored.
    if bank_action != BANK_DEFAULT and bank_action in ACTIONS:
        return bank_action
    return default_action(signal_type, distance)


def severity(action: str, signal_type: str, distance: int) -> int:
    """Queue urgency, higher first: blocked near-exact copies, then other blocked content, then the rest."""
    kind = SIGNAL_TYPES.get(signal_type)
    exactish = kind is None or kind.distance_metric == "exact" or distance <= NEAR_EXACT_PDQ
    if action in ("block_and_review", "block"):
        return 3 if exactish else 2
    return 1


def load_rules(session: Session) -> list[Rule]:
    return [
        Rule(r.bank_id, r.signal_type, r.min_distance, r.max_distance, r.action, r.priority)
        for r in session.scalars(select(ActionRule))
    ]


def add_rule(
    session: Session,
    *,
    action: str,
    max_distance: int,
    min_distance: int = 0,
    bank_id: int | None = None,
    signal_type: str | None = None,
    priority: int = 100,
) -> ActionRule:
    if action not in ACTIONS:
        raise RuleError(f"action must be one of {', '.join(ACTIONS)}")
    if signal_type is not None and signal_type not in SIGNAL_TYPES:
        raise RuleError(f"unknown signal type {signal_type!r}")
    if not 0 <= min_distance <= max_distance:
        raise RuleError("distance band must satisfy 0 <= min_distance <= max_distance")
    rule = ActionRule(
        bank_id=bank_id,
        signal_type=signal_type,
        min_distance=min_distance,
        max_distance=max_distance,
        action=action,
        priority=priority,
    )
    session.add(rule)
    session.flush()
    return rule
