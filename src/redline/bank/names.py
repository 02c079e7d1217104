"""What a name an operator gives (a bank, a key, a partner) may contain, for the API and the CLI alike.

Names are shown to reviewers and operators in the console, in logs and in exports. Bank names also appear
in URLs and in platforms' mirrors, so they are plain lowercase identifiers. Labels (key and partner names)
are free text for people, but not markup (``<``, ``>``), not control characters, and not the invisible
format characters (right-to-left overrides, zero-width joiners) that make one name display as another.
"""

from __future__ import annotations

import re
import unicodedata

BANK_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_LABEL = 128
_BANK_NAME = re.compile(BANK_NAME_PATTERN)


class NameRefused(ValueError):
    """The name is not allowed; the message says why, for people."""


def check_bank_name(name: str) -> str:
    if not _BANK_NAME.fullmatch(name):
        raise NameRefused(
            "a bank name is 1 to 64 characters: lowercase letters, digits, '_' and '-', "
            "starting with a letter or digit"
        )
    return name


def check_label(text: str, what: str = "name") -> str:
    if not 1 <= len(text) <= MAX_LABEL or text.strip() != text:
        raise NameRefused(f"a {what} is 1 to {MAX_LABEL} characters, without spaces at either end")
    if "<" in text or ">" in text:
        raise NameRefused(f"a {what} may not contain '<' or '>'")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for ch in text):
        raise NameRefused(f"a {what} may not contain control, invisible or direction-changing characters")
    return text
