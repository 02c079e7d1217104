"""``GET /v1/help-services``: the support services the portal lists under "Getting help", per language.

Public and the same for everyone: the operator's list (``REDLINE_HELP_SERVICES_FILE``) or the built-in one
(``redline.help_services``). The file is read once at start; a file that cannot be used stops the start
with a message naming the problem, rather than a portal that silently lists nobody.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from redline.config import Settings
from redline.help_services import load_help_services


class HelpServiceOut(BaseModel):
    name: str
    description: str | None = None
    phone: str | None = None
    url: str | None = None


class HelpServicesOut(BaseModel):
    services: dict[str, list[HelpServiceOut]] = Field(
        description="language (en, zh-Hant-HK, ...) -> services; pages fall back to en"
    )


def help_router(settings: Settings) -> APIRouter:
    listed = HelpServicesOut(
        services={
            language: [HelpServiceOut(**s.to_dict()) for s in services]
            for language, services in load_help_services(settings.help_services_file).items()
        }
    )
    router = APIRouter(prefix="/v1", tags=["survivors"])

    @router.get("/help-services", response_model=HelpServicesOut, response_model_exclude_none=True)
    def help_services() -> HelpServicesOut:
        """Support services per language, for the portal's "Getting help" section."""
        return listed

    return router
