"""The operator's side: a flag key is an API key with the ``flag`` scope (``redline keys create``);
``redline cases withdraw`` on the person's request, before the claim only; ``redline cases flaggers``."""

from __future__ import annotations

from typer.testing import CliRunner

from redline.cli.main import app
from tests.support.apps import Api
from tests.support.media import distinct_picture, picture_hashes


def test_operator_issues_a_flag_key_and_withdraws_on_request(api: Api) -> None:
    env = {"REDLINE_DATABASE_URL": api.settings.database_url, "REDLINE_DATA_DIR": str(api.settings.data_dir)}
    runner = CliRunner()
    made = runner.invoke(
        app, ["keys", "create", "--name", "ngo-flagger", "--scope", "flag", "--partner", "ngo"], env=env
    )
    assert made.exit_code == 0, made.output
    key = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
    body = {"hashes": picture_hashes(distinct_picture(70), 0)}
    first = api.client.post("/v1/intake/cases", headers=key, json=body).json()
    second = api.client.post(
        "/v1/intake/cases", headers=key, json={"hashes": picture_hashes(distinct_picture(71), 0)}
    ).json()
    listed = runner.invoke(app, ["cases", "flaggers"], env=env)
    assert listed.exit_code == 0 and "\t2\t2\t0\t0" in listed.output
    no_reason = runner.invoke(app, ["cases", "withdraw", first["case_id"], "--reason", " "], env=env)
    assert no_reason.exit_code == 2 and "say why" in no_reason.output
    done = runner.invoke(
        app, ["cases", "withdraw", first["case_id"], "--reason", "she asked by phone"], env=env
    )
    assert done.exit_code == 0 and "withdrew" in done.output
    assert (
        api.client.get(f"/v1/cases/{first['case_id']}", headers={"X-Case-Secret": first["secret"]}).json()[
            "status"
        ]
        == "withdrawn"
    )
    api.client.post(f"/v1/cases/{second['case_id']}/claim", headers={"X-Case-Secret": second["secret"]})
    refused = runner.invoke(
        app, ["cases", "withdraw", second["case_id"], "--reason", "someone asked"], env=env
    )
    assert refused.exit_code == 2 and "only she can withdraw" in refused.output
