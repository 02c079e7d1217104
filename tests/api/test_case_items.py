"""The case view's per-picture report (``items``): one line per picture or video, each platform upload
counted once however many of the picture's hashes it matched, and what platforms reported for it."""

from __future__ import annotations

import secrets

from tests.support import wait_until
from tests.support.apps import Api, match
from tests.support.media import flip


def picture(item: int) -> tuple[list[dict[str, object]], dict[str, str]]:
    """The hashes a picture sends (pdq, two of its region hashes, md5, sha256), and the values by type."""
    values = {"pdq": secrets.token_hex(32), "md5": secrets.token_hex(16), "sha256": secrets.token_hex(32)}
    hashes: list[dict[str, object]] = [
        {"type": "pdq", "value": values["pdq"], "quality": 90, "item": item},
        {"type": "pdq_region", "value": values["pdq"], "quality": 90, "item": item},
        {"type": "pdq_region", "value": secrets.token_hex(32), "quality": 88, "item": item},
        {"type": "md5", "value": values["md5"], "item": item},
        {"type": "sha256", "value": values["sha256"], "item": item},
    ]
    return hashes, values


def test_each_picture_is_one_line_and_each_upload_counts_once(api: Api) -> None:
    key = api.key("match", "review")  # a platform decides its own review items
    first, one = picture(0)
    second, _ = picture(1)
    video = [{"type": "md5", "value": secrets.token_hex(16), "item": 2}]
    loose = [{"type": "sha256", "value": secrets.token_hex(32)}]  # a hash sent without an item
    case = api.submit([*first, *second, *video, *loose])
    headers = {"X-Case-Secret": case["secret"]}

    def view() -> dict[str, object]:
        response = api.client.get(f"/v1/cases/{case['case_id']}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    items = view()["items"]
    assert items == [
        {"item": 0, "kind": "picture", "status": "active", "copies_found": 0, "reported": {}},
        {"item": 1, "kind": "picture", "status": "active", "copies_found": 0, "reported": {}},
        {"item": 2, "kind": "file", "status": "active", "copies_found": 0, "reported": {}},
        {"item": None, "kind": "file", "status": "active", "copies_found": 0, "reported": {}},
    ]

    # One exact upload of picture 0: its md5, sha256 and pdq all match (and the pdq_region equal to the
    # pdq): several hash matches, one copy found, blocked at once (exact matches are block_and_review).
    wait_until(lambda: bool(match(api, key, ("pdq", one["pdq"]))[0]), timeout=1.0)
    view_before = view()
    exact = match(api, key, ("md5", one["md5"]), ("sha256", one["sha256"]), ("pdq", one["pdq"]))
    assert all(exact)
    body = view()
    assert body["matches"] > 3  # type: ignore[operator]
    assert body["items"][0]["copies_found"] == view_before["items"][0]["copies_found"] + 1  # type: ignore[index]
    assert body["items"][0]["reported"] == {"Blocked": body["items"][0]["copies_found"]}  # type: ignore[index]

    # A near copy (PDQ distance 10): another upload, waiting for review; a reviewer then rejects it.
    [[near]] = match(api, key, ("pdq", flip(one["pdq"], 10)))
    assert near["action"] == "review"
    reported = view()["items"][0]["reported"]  # type: ignore[index]
    assert reported["PendingReview"] == 1
    decided = api.client.post(
        f"/v1/review/items/{near['review_item_id']}/decision", headers=key, json={"decision": "reject"}
    )
    assert decided.status_code == 200, decided.text
    after = view()["items"]
    assert after[0]["reported"].get("NotBlocked") == 1 and "PendingReview" not in after[0]["reported"]  # type: ignore[index]
    assert after[0]["copies_found"] == sum(after[0]["reported"].values())  # type: ignore[index]
    assert [i["copies_found"] for i in after[1:]] == [0, 0, 0]  # type: ignore[index]
    # No hash values, platform names or internal action codes in the per-picture report.
    text = str(after)
    assert one["pdq"] not in text and "block_and_review" not in text and "review'" not in text

    withdrawn = api.client.post(f"/v1/cases/{case['case_id']}/withdraw", headers=headers)
    assert withdrawn.status_code == 200
    assert {i["status"] for i in view()["items"]} == {"withdrawn"}  # type: ignore[index]
