"""Our access log, in place of uvicorn's: one JSON line per request that names the route, never the path.

uvicorn's access log wrote ``127.0.0.1:60912 - "GET /v1/cases/RL-... 401"`` for every case check and
withdrawal: a case number next to the address it was opened from. Here a request is logged by its route
template (``/v1/cases/{case_id}``), so no case number, bank name or key id from a path is written, and the
client address only for the routes callers use with an API key (platforms, partners, operators,
moderators): never for survivors' routes, the portal or anything else. Query strings and headers (secrets,
keys) are never logged.
"""

from __future__ import annotations

import json
import logging

from starlette.types import Scope

from redline.api.middleware import ObservedRequests

log = logging.getLogger("redline.access")
#: Router tags of the routes whose callers are organisations with API keys: their address may be logged.
ADDRESS_LOGGED_TAGS = frozenset({"platforms", "operators", "moderation"})


class AccessLog(ObservedRequests):
    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        log.info("request %s", json.dumps(request_fields(scope, status, seconds)))


def request_fields(scope: Scope, status: int, seconds: float) -> dict[str, object]:
    route = scope.get("route")
    fields: dict[str, object] = {
        "method": scope.get("method", ""),
        "route": getattr(route, "path", None) or "unmatched",
        "status": status,
        "ms": round(seconds * 1000, 1),
    }
    client = scope.get("client")
    if client and ADDRESS_LOGGED_TAGS & set(getattr(route, "tags", None) or ()):
        fields["client"] = client[0]
    return fields
