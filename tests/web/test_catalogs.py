"""Every string the portal shows comes from a message catalog, and every catalog is complete."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from redline.bank.models import ENTRY_STATUSES
from redline.review.case_report import OUTCOMES, ItemKind
from redline.signals.types import SIGNAL_TYPES, PdqSignal
from redline.web import STATIC_DIR
from tests.support.locales import LANGUAGES, catalog

DYNAMIC_PREFIXES = ("files.problem.", "status.", "case.item.", "case.itemStatus.", "case.reported.")


def keys_used() -> set[str]:
    used: set[str] = set()
    for page in STATIC_DIR.glob("*.html"):  # the portal and the intake page
        html = page.read_text("utf-8")
        used |= set(re.findall(r'data-i18n="([^"]+)"', html))
        for attr in re.findall(r'data-i18n-attr="([^"]+)"', html):
            used |= set(re.findall(r":([\w.]+)", attr))
    for script in STATIC_DIR.glob("*.js"):
        text = script.read_text("utf-8")
        used |= set(re.findall(r"""(?:say\([^,]+,|\bt\()\s*'([\w.-]+)'""", text))
    return used


def test_every_used_key_exists_in_english() -> None:
    used = keys_used()
    assert len(used) > 80
    missing = sorted(used - catalog("en").keys())
    assert not missing, f"keys used by the page but missing from en.json: {missing}"


@pytest.mark.parametrize("lang", LANGUAGES[1:])
def test_catalogs_are_complete_and_translated(lang: str) -> None:
    english, other = catalog("en"), catalog(lang)
    assert other.keys() == english.keys()
    placeholders = re.compile(r"\{\w+\}")
    for key, text in other.items():
        assert text.strip(), key
        assert sorted(placeholders.findall(text)) == sorted(placeholders.findall(english[key])), key
    # Translated, not copied: apart from names (Redline, Take It Down) the texts differ from English.
    same = [k for k in english if other[k] == english[k] and k not in {"brand"}]
    assert not same, same


def test_every_problem_code_and_status_has_a_message() -> None:
    english = catalog("en")
    for code in ("unsupported", "too-large", "unreadable", "empty"):
        assert f"files.problem.{code}" in english
    for status in ("active", "withdrawn", "quarantined", "expired"):
        assert f"status.{status}" in english
    # The case page's per-picture lines: every kind, status and outcome the API can report has words.
    for kind in get_args(ItemKind):
        assert f"case.item.{kind}" in english
    for status in ENTRY_STATUSES:
        assert f"case.itemStatus.{status}" in english
    for outcome in OUTCOMES:
        assert f"case.reported.{outcome}" in english
    assert all(any(k.startswith(p) for k in english) for p in DYNAMIC_PREFIXES)


def test_the_quick_exit_shortcut_is_written_on_the_page_in_every_language() -> None:
    for lang in LANGUAGES:
        assert "Shift" in catalog(lang)["exit.hint"], lang
    assert "three times" in catalog("en")["exit.hint"]


def test_the_portals_signal_types_are_the_registrys() -> None:
    """The portal computes and sends exactly the types the server's registry says a survivor's device
    computes (``on_survivor_device``), under their registered names, with the PDQ quality floor."""
    listed = re.findall(r"\bname: '([\w]+)'", (STATIC_DIR / "signals.js").read_text("utf-8"))
    assert sorted(listed) == sorted(k.name for k in SIGNAL_TYPES.values() if k.on_survivor_device)
    assert len(listed) == len(set(listed)) >= 4
    media = (STATIC_DIR / "media.js").read_text("utf-8")
    assert f"export const QUALITY_THRESHOLD = {PdqSignal.min_quality};" in media
    # No other module spells a hash's type: casePayload takes them from signals.js.
    spelled = re.compile(rf"type: '({'|'.join(SIGNAL_TYPES)})'")
    for script in STATIC_DIR.glob("*.js"):
        if script.name != "signals.js":
            assert not spelled.search(script.read_text("utf-8")), script.name


def test_the_intake_pages_sheets_say_what_the_clis_sheets_say() -> None:
    """The browser's hand-over sheet (intake.js) reads its texts from the catalogs: the same words as the
    CLI's sheet (intake/sheets.py), language by language."""
    from redline.intake.sheets import TEXTS

    for texts, lang in zip(TEXTS, LANGUAGES, strict=True):
        sheet = {
            k.removeprefix("intake.sheet."): v
            for k, v in catalog(lang).items()
            if k.startswith("intake.sheet.")
        }
        assert sheet == {
            "heading": texts.heading, "what": texts.what, "caseLabel": texts.case_label,
            "keyLabel": texts.key_label, "canDo": texts.can_do,
            **{f"do.{n}": item for n, item in enumerate(texts.do_items, start=1)},
            "withdrawHeading": texts.withdraw_heading, "withdraw": texts.withdraw,
            "helpHeading": texts.help_heading, "keepSafe": texts.keep_safe,
        }, lang  # fmt: skip
    # Every reason the hashing worker gives for a file it could not hash has words on the intake page.
    for code in ("unsupported", "too-large", "unreadable", "empty", "cancelled", "not-hashed"):
        assert f"intake.problem.{code}" in catalog("en")
