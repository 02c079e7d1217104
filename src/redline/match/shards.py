"""Which part of the match index a shard process holds: shard ``k`` of ``n`` holds exactly the indexed entries
(every type ``SIGNAL_TYPES.indexed()`` gives) with ``entry_id % n == k``.

Why by entry id: ids are dense and never reused, so every shard gets an equal share of every type without
a lookup table, the split needs nothing but the id (the change log carries it), and the parts are disjoint
and together complete — the merged answers of all ``n`` shards are exactly one process's answer. A shard
applies the same filter where entries are streamed from the database and where change-log rows are
applied, so it reuses the ordinary load, poll and snapshot code (``redline.match.service.Matcher``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ShardSpec:
    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} of {self.count}: need 0 <= shard < count")

    def holds(self, entry_id: int) -> bool:
        return entry_id % self.count == self.index

    def sql_condition(self, column: str) -> str:
        """The same test in SQL (ids are positive, so ``%`` agrees with Python's on SQLite and PostgreSQL)."""
        return f"{column} % {int(self.count)} = {int(self.index)}"

    @property
    def label(self) -> str:
        """``shard-K-of-N``: the snapshot folder's name and what the shard says it is to the API process."""
        return f"shard-{self.index}-of-{self.count}"
