"""The support services the survivor portal lists under "Getting help", per language.

A survivor who finds this page may need a person more than a hash: the list names real services, with
their numbers and addresses. Every number below was checked (2026-12) on the service's own site (Revenge
Porn Helpline, RainLily) or in a government press release (Social Welfare Department: its 24-hour
hotline); where a number could not be confirmed (CCRI's helpline), only the web address is given.
Operators replace the list with their own (local helplines, their own hotline) through
``REDLINE_HELP_SERVICES_FILE``: a JSON object of language -> list of services, each
``{"name", "description", "phone", "url"}`` (only ``name`` required).
The portal shows the list of its current language, or the English one.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: A language tag as the portal's catalogs name them (en, zh-Hant-HK, zh-Hans...).
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{1,38}$")
_FIELDS = {"name": 120, "description": 400, "phone": 40, "url": 300}
MAX_SERVICES = 20


class HelpServicesError(ValueError):
    """The operator's file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class HelpService:
    name: str
    description: str = ""
    phone: str = ""
    url: str = ""

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}


_STOPNCII = "https://stopncii.org/"
_RAINLILY_PHONE = "2375 5322"

DEFAULT_SERVICES: dict[str, list[HelpService]] = {
    "en": [
        HelpService(
            "StopNCII.org",
            "Free, worldwide. Turns intimate images into hashes on your own device, so that partner "
            "platforms can block them.",
            url=_STOPNCII,
        ),
        HelpService(
            "Revenge Porn Helpline (UK)",
            "Advice for adults in the UK, and help to get intimate images removed.",
            phone="0345 6000 459",
            url="https://revengepornhelpline.org.uk/",
        ),
        HelpService(
            "Cyber Civil Rights Initiative (US)",
            "Image Abuse Helpline and a step-by-step guide for people in the United States.",
            url="https://cybercivilrights.org/ccri-safety-center/",
        ),
        HelpService(
            "RainLily (Hong Kong)",
            "Sexual violence helpline and support for women, including image-based sexual violence.",
            phone=_RAINLILY_PHONE,
            url="https://rainlily.org.hk/eng/helpinfo",
        ),
        HelpService("Police", "If you are in danger now: 999 in Hong Kong and the UK, 911 in the US."),
    ],
    "zh-Hant-HK": [
        HelpService(
            "風雨蘭",
            "性暴力求助熱線及支援服務（服務女性），包括影像性暴力。",
            phone=_RAINLILY_PHONE,
            url="https://rainlily.org.hk/",
        ),
        HelpService(
            "社會福利署熱線",
            "24 小時電話輔導、支援及轉介服務。",
            phone="2343 2255",
            url="https://www.swd.gov.hk/",
        ),
        HelpService(
            "StopNCII.org",
            "免費、全球適用：在你自己的裝置上把私密影像變成雜湊值，讓合作平台封鎖這些影像。",
            url=_STOPNCII,
        ),
        HelpService("警察", "如有即時危險，請致電 999 報警。"),
    ],
    "zh-Hans": [
        HelpService(
            "StopNCII.org",
            "免费、全球适用：在你自己的设备上把私密影像变成哈希值，让合作平台屏蔽这些影像。",
            url=_STOPNCII,
        ),
        HelpService(
            "风雨兰（香港）",
            "性暴力求助热线及支援服务（服务女性），包括影像性暴力。",
            phone=_RAINLILY_PHONE,
            url="https://rainlily.org.hk/",
        ),
        HelpService("警察", "如有即时危险，请报警：中国内地拨打 110，香港拨打 999。"),
    ],
}


def load_help_services(path: str) -> dict[str, list[HelpService]]:
    """The operator's services from the JSON file at ``path``, or :data:`DEFAULT_SERVICES` when empty."""
    if not path:
        return DEFAULT_SERVICES
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise HelpServicesError(f"help services file {path}: {exc}") from exc
    return parse_help_services(data, where=path)


def parse_help_services(data: Any, *, where: str = "help services") -> dict[str, list[HelpService]]:
    """Validate ``{language: [{name, description, phone, url}, ...]}``; English is required (the fallback)."""
    if not isinstance(data, dict) or "en" not in data:
        raise HelpServicesError(f"{where}: a JSON object of language -> list of services, with 'en'")
    out: dict[str, list[HelpService]] = {}
    for language, services in data.items():
        if not isinstance(language, str) or not _LANGUAGE.match(language):
            raise HelpServicesError(f"{where}: {language!r} is not a language tag (like en or zh-Hant-HK)")
        if not isinstance(services, list) or len(services) > MAX_SERVICES:
            raise HelpServicesError(f"{where}: {language}: a list of at most {MAX_SERVICES} services")
        out[language] = [_service(s, f"{where}: {language}[{i}]") for i, s in enumerate(services)]
    return out


def _service(raw: Any, where: str) -> HelpService:
    if not isinstance(raw, dict):
        raise HelpServicesError(f"{where}: an object with name, description, phone, url")
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise HelpServicesError(f"{where}: unknown field(s) {', '.join(unknown)}")
    for key, limit in _FIELDS.items():
        value = raw.get(key, "")
        if not isinstance(value, str) or len(value) > limit or any(ord(c) < 32 for c in value):
            raise HelpServicesError(f"{where}: {key} must be text of at most {limit} characters, one line")
    if not raw.get("name", "").strip():
        raise HelpServicesError(f"{where}: name is required")
    if raw.get("phone") and not _PHONE.match(raw["phone"]):
        raise HelpServicesError(f"{where}: phone must be digits, spaces, + ( ) - only")
    if raw.get("url") and not raw["url"].startswith("https://"):
        raise HelpServicesError(f"{where}: url must start with https://")
    return HelpService(**{k: raw[k].strip() for k in _FIELDS if k in raw})
