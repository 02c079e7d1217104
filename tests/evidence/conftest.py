"""The API fixtures of tests/api, for the log's HTTP tests."""

from tests.api.conftest import api  # noqa: F401
