"""What console routes depend on: the console's services, the signed-in staff member, a checked form.

Why the console has its own services object rather than the API's: the application composes both, and the
console never imports ``redline.api`` (which imports ``redline.web``), so neither package depends on the
other's internals. ``create_app`` hands the console the database and settings it shares with the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, Request

from redline.bank.db import Database
from redline.config import Settings
from redline.review import accounts
from redline.review.accounts import SignedIn, SignInThrottle

SESSION_COOKIE = "redline_console"
PRE_COOKIE = "redline_console_pre"


@dataclass(frozen=True)
class ConsoleServices:
    db: Database
    settings: Settings

    @property
    def throttle(self) -> SignInThrottle:
        return SignInThrottle(self.settings.console_login_attempts)


class ConsoleRefusal(Exception):
    """A request the console answers with a redirect or a refusal page instead of the route's page."""


class SignInRequired(ConsoleRefusal):
    """No live session: the sign-in page."""


class AdminOnly(ConsoleRefusal):
    """A reviewer asked for an admin's page."""


class FormExpired(ConsoleRefusal):
    """A form without this session's CSRF token (forged, or from an ended session)."""

    def __init__(self, who: SignedIn) -> None:
        super().__init__("form expired")
        self.who = who


def console_services(request: Request) -> ConsoleServices:
    found: ConsoleServices = request.app.state.console
    return found


Services = Annotated[ConsoleServices, Depends(console_services)]


def client_address(request: Request) -> str:
    # Behind a proxy, uvicorn's proxy-headers handling has already put the real client here.
    return request.client.host if request.client else "unknown"


Address = Annotated[str, Depends(client_address)]


def signed_in(request: Request, found: Services) -> SignedIn:
    with found.db.read() as session:
        who = accounts.current(session, request.cookies.get(SESSION_COOKIE))
    if who is None:
        raise SignInRequired()
    return who


Reviewer = Annotated[SignedIn, Depends(signed_in)]


def admin(who: Reviewer) -> SignedIn:
    if who.user.role != "admin":
        raise AdminOnly()
    return who


Admin = Annotated[SignedIn, Depends(admin)]


def form_sender(who: Reviewer, csrf_token: Annotated[str, Form(max_length=128)] = "") -> SignedIn:
    """The signed-in sender of a POSTed form that carries the session's CSRF token."""
    if not accounts.csrf_ok(who.csrf_token, csrf_token):
        raise FormExpired(who)
    return who


FormSender = Annotated[SignedIn, Depends(form_sender)]
