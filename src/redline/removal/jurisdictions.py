"""What a valid removal request needs under each law, and how long the platform has.

One :class:`Jurisdiction` per regime the form offers. ``required`` names the form's fields the law asks
for; ``statements`` the declarations the requester must make (their wording is in the form's catalogs,
``web/static/locales/removal``, versioned by :data:`STATEMENTS_VERSION`). Where a law sets no period
(DSA Art. 16: "timely"), the platform's own policy period is used and said so (``period_is_policy``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

#: Version of the declarations' wording; recorded with each request.
STATEMENTS_VERSION = "removal-2026-1"


@dataclass(frozen=True)
class Jurisdiction:
    code: str
    title: str
    law: str
    period: timedelta
    #: Fields a valid request must fill (besides at least one item and a way to contact her).
    required: tuple[str, ...]
    #: Declarations that must be ticked; ``authorised`` is added when an agent files.
    statements: tuple[str, ...]
    #: The legal ground named in statements of reasons (DSA Transparency Database).
    legal_ground: str
    period_is_policy: bool = False


JURISDICTIONS: dict[str, Jurisdiction] = {
    j.code: j
    for j in (
        Jurisdiction(
            code="us",
            title="United States: TAKE IT DOWN Act",
            law="47 U.S.C. § 223a",
            period=timedelta(hours=48),
            required=("name", "email", "signature"),
            statements=("good_faith_non_consent",),
            legal_ground="47 U.S.C. § 223a (TAKE IT DOWN Act): non-consensual intimate visual depiction",
        ),
        Jurisdiction(
            code="uk",
            title="United Kingdom: intimate image content report",
            law="Crime and Policing Act 2026",
            period=timedelta(hours=48),
            required=("name", "email"),
            statements=("declaration_true",),
            legal_ground="Crime and Policing Act 2026: intimate image content report",
        ),
        Jurisdiction(
            code="eu",
            title="European Union: notice under the Digital Services Act",
            law="Regulation (EU) 2022/2065, Art. 16",
            period=timedelta(hours=48),
            required=("name", "email", "explanation"),
            statements=("good_faith_accurate",),
            legal_ground="Non-consensual sharing of intimate images (Directive (EU) 2024/1385, Art. 5)",
            period_is_policy=True,
        ),
        Jurisdiction(
            code="au",
            title="Australia: eSafety removal notice",
            law="Online Safety Act 2021 (Cth), s. 77",
            period=timedelta(hours=24),
            required=("name", "email", "notice_reference"),
            statements=(),
            legal_ground="Online Safety Act 2021 (Cth), s. 77: removal notice (intimate image)",
        ),
    )
}
#: The declaration an agent adds, in every regime but eSafety's (the Commissioner acts in her own right).
AGENT_STATEMENT = "authorised"


def jurisdiction(code: str) -> Jurisdiction:
    """The regime named ``code``; KeyError for an unknown one."""
    return JURISDICTIONS[code]


def required_statements(j: Jurisdiction, subject: str) -> tuple[str, ...]:
    if subject == "agent" and j.code != "au":
        return (*j.statements, AGENT_STATEMENT)
    return j.statements
