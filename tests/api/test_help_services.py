"""``GET /v1/help-services``: the built-in list is real services in every portal language; an operator's
file replaces it; a file that cannot be used stops the start with a message saying why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from redline.api.app import create_app
from redline.help_services import DEFAULT_SERVICES, HelpServicesError
from tests.support.apps import make_settings
from tests.support.locales import LANGUAGES

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no database involved


def listed(database_url: str, tmp_path: Path, **overrides: str) -> dict[str, list[dict[str, str]]]:
    with TestClient(create_app(make_settings(database_url, tmp_path / "data", **overrides))) as client:
        response = client.get("/v1/help-services")
    assert response.status_code == 200, response.text
    services: dict[str, list[dict[str, str]]] = response.json()["services"]
    return services


def test_the_default_names_real_services_in_every_portal_language(database_url: str, tmp_path: Path) -> None:
    services = listed(database_url, tmp_path)
    assert set(LANGUAGES) <= set(services)
    for language in LANGUAGES:
        assert len(services[language]) >= 3, language
        assert all(s["name"] and (s.get("url") or s.get("description")) for s in services[language])
        assert all(s["url"].startswith("https://") for s in services[language] if "url" in s)
    english = {s["name"]: s for s in services["en"]}
    # The numbers are the services' own (docs/PORTAL.md says where each was checked).
    assert english["Revenge Porn Helpline (UK)"]["phone"] == "0345 6000 459"
    assert english["RainLily (Hong Kong)"]["phone"] == "2375 5322"
    assert "StopNCII.org" in english
    assert any(s.get("phone") == "2343 2255" for s in services["zh-Hant-HK"])  # Social Welfare Department
    assert services == {k: [s.to_dict() for s in v] for k, v in DEFAULT_SERVICES.items()}


def test_an_operators_file_replaces_the_list(database_url: str, tmp_path: Path) -> None:
    own = {
        "en": [
            {"name": "Example Support Line", "phone": "+852 1234 5678", "url": "https://help.example.org/"}
        ],
        "zh-Hant-HK": [{"name": "示例支援熱線", "description": "由本網站營運者提供。"}],
    }
    path = tmp_path / "help.json"
    path.write_text(json.dumps(own, ensure_ascii=False), "utf-8")
    assert listed(database_url, tmp_path, help_services_file=str(path)) == own


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("not json", "help.json"),
        (json.dumps([]), "with 'en'"),
        (json.dumps({"zh-Hans": []}), "with 'en'"),
        (json.dumps({"en": [{"description": "no name"}]}), "name is required"),
        (json.dumps({"en": [{"name": "x", "url": "http://plain.example/"}]}), "https://"),
        (json.dumps({"en": [{"name": "x", "url": "javascript:alert(1)"}]}), "https://"),
        (json.dumps({"en": [{"name": "x", "phone": "call me"}]}), "phone"),
        (json.dumps({"en": [{"name": "x", "email": "a@example.org"}]}), "unknown field(s) email"),
        (json.dumps({"en": [{"name": "two\nlines"}]}), "one line"),
        (json.dumps({"<script>": [], "en": []}), "not a language tag"),
    ],
)
def test_a_file_that_cannot_be_used_stops_the_start(
    database_url: str, tmp_path: Path, content: str, says: str
) -> None:
    path = tmp_path / "help.json"
    path.write_text(content, "utf-8")
    with pytest.raises(HelpServicesError, match="help") as failure:
        create_app(make_settings(database_url, tmp_path / "data", help_services_file=str(path)))
    assert says in str(failure.value)


def test_a_missing_file_stops_the_start(database_url: str, tmp_path: Path) -> None:
    with pytest.raises(HelpServicesError, match=r"nowhere\.json"):
        create_app(make_settings(database_url, tmp_path, help_services_file=str(tmp_path / "nowhere.json")))
