"""Console accounts (domain) and the ``redline users`` / ``redline webhooks`` / ``redline rules`` commands."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from redline.actions.models import ActionRule, WebhookEndpoint
from redline.bank.db import Database
from redline.bank.models import utcnow
from redline.bank.service import Conflict
from redline.cli.main import app
from redline.review import accounts
from redline.review.models import ConsoleSignInFailure, ConsoleUser

PASSWORD = "a long enough passphrase"


def test_passwords_sessions_and_disabling(db: Database) -> None:
    with db.write() as s:
        with pytest.raises(accounts.AccountError, match="12"):
            accounts.create_user(s, username="x", password="short", role="reviewer", actor="t")
        with pytest.raises(accounts.AccountError, match="role"):
            accounts.create_user(s, username="x", password=PASSWORD, role="root", actor="t")
        user = accounts.create_user(s, username="rita", password=PASSWORD, role="reviewer", actor="t")
        assert PASSWORD not in user.password_hash and user.password_hash.startswith("$argon2id$")
    with db.write() as s, pytest.raises(Conflict):
        accounts.create_user(s, username="rita", password=PASSWORD, role="admin", actor="t")
    with db.write() as s:
        assert accounts.authenticate(s, "rita", "wrong password!") is None
        assert accounts.authenticate(s, "nobody", PASSWORD) is None
        user = accounts.authenticate(s, "rita", PASSWORD)
        assert user is not None
        token, csrf = accounts.start_session(s, user, timedelta(hours=1))
    with db.read() as s:
        who = accounts.current(s, token)
        assert who is not None and who.user.username == "rita" and who.csrf_token == csrf
        assert accounts.current(s, token, now=utcnow() + timedelta(hours=2)) is None  # expired
        assert accounts.current(s, token + "x") is None
    with db.write() as s:
        accounts.set_disabled(s, "rita", True, actor="t")
    with db.write() as s:
        assert accounts.current(s, token) is None  # sessions end with the account
        assert accounts.authenticate(s, "rita", PASSWORD) is None


def test_throttle_counts_failures_per_user_and_address(db: Database, database_url: str) -> None:
    throttle = accounts.SignInThrottle(limit=2, window=timedelta(seconds=60))
    with db.write() as s:
        throttle.failed(s, "rita", "1.2.3.4")
    with db.write() as s:
        throttle.failed(s, "RITA", "1.2.3.4")
    with db.read() as s:
        assert not throttle.allowed(s, "rita", "1.2.3.4")
        assert throttle.allowed(s, "rita", "5.6.7.8") and throttle.allowed(s, "sam", "1.2.3.4")
        later = utcnow() + timedelta(seconds=61)
        assert throttle.allowed(s, "rita", "1.2.3.4", now=later)  # the window has passed
    # Another process (its own engine and connections) sees the same failures.
    other = Database(database_url)
    try:
        with other.read() as s:
            assert not throttle.allowed(s, "rita", "1.2.3.4")
        with other.write() as s:
            throttle.failed(s, "sam", "1.2.3.4", now=utcnow() + timedelta(seconds=61))
        with other.read() as s:
            # Failures past the window were dropped with that write; neither names nor addresses are stored.
            keys = list(s.scalars(select(ConsoleSignInFailure.key)))
            assert len(keys) == 1 and all("rita" not in k and "1.2.3.4" not in k for k in keys)
    finally:
        other.dispose()


def test_cli_users_webhooks_rules(db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("REDLINE_WEBHOOK_ALLOW_LOOPBACK", "1")
    monkeypatch.setenv("ADA_PW", PASSWORD)
    runner = CliRunner()
    made = runner.invoke(app, ["users", "create", "ada", "--role", "admin", "--password-env", "ADA_PW"])
    assert made.exit_code == 0, made.output
    assert runner.invoke(app, ["users", "create", "ada", "--password-env", "ADA_PW"]).exit_code == 1
    with db.read() as s:
        assert s.scalars(select(ConsoleUser.role).where(ConsoleUser.username == "ada")).one() == "admin"

    added = runner.invoke(app, ["webhooks", "add", "http://127.0.0.1:9/hook", "--event", "review.decided"])
    assert added.exit_code == 0, added.output
    secret = added.output.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    rotated = runner.invoke(app, ["webhooks", "rotate", "1"])
    assert rotated.exit_code == 0 and rotated.output.strip().splitlines()[-1] != secret
    with db.read() as s:
        assert len(s.scalars(select(WebhookEndpoint)).one().secrets) == 2
    monkeypatch.setenv("REDLINE_WEBHOOK_ALLOW_LOOPBACK", "0")
    refused = runner.invoke(app, ["webhooks", "add", "http://127.0.0.1:9/hook"])
    assert refused.exit_code == 1 and "loopback" in refused.output

    rule = runner.invoke(app, ["rules", "add", "--action", "log", "--type", "pdq", "--max-distance", "31"])
    assert rule.exit_code == 0, rule.output
    assert runner.invoke(app, ["rules", "add", "--action", "explode", "--max-distance", "3"]).exit_code == 1
    with db.read() as s:
        assert s.scalars(select(ActionRule.action)).all() == ["log"]
