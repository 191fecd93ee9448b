"""A secret is redacted in the forms servers and libraries echo it, not only raw."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from snowpg.logs import redact, register_secrets

SECRET = "pa'ss\\wo\"rd %&/ x"


@pytest.mark.parametrize(
    "echo",
    [
        SECRET,
        repr(SECRET),
        json.dumps(SECRET),
        json.dumps({"password": SECRET}),
        urllib.parse.quote(SECRET, safe=""),
        urllib.parse.quote_plus(SECRET),
        "password='" + SECRET.replace("\\", "\\\\").replace("'", "\\'") + "'",
        "'" + SECRET.replace("'", "''") + "'",
        '"' + SECRET.replace('"', '""') + '"',
    ],
)
def test_each_echoed_form_of_a_secret_is_redacted(echo: str) -> None:
    register_secrets([SECRET])
    out = redact(f"server said: {echo} (end)")
    for part in ("ss", "rd", "%&", "%25"):  # no piece of the secret, in any form, is left
        assert part not in out.replace("password", ""), out
    assert "***" in out
