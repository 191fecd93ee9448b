"""``snowpg serve`` access rules: read-only, localhost without login, a token anywhere else."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from snowpg.errors import ConfigError
from snowpg.observe.server import ServeOptions, StatusServer, is_loopback
from snowpg.status.report import StatusReport


def _status() -> dict[str, Any]:
    return {"sources": [StatusReport("src", "db", None, None).to_json()], "runs": [], "errors": []}


def _serve(options: ServeOptions) -> Iterator[StatusServer]:
    server = StatusServer(options, load_status=_status, load_reports=lambda: [])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def local() -> Iterator[StatusServer]:
    yield from _serve(ServeOptions(host="127.0.0.1", port=0))


@pytest.fixture
def exposed() -> Iterator[StatusServer]:
    yield from _serve(ServeOptions(host="0.0.0.0", port=0, token="s3cret-token"))


def _get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, str]:
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_localhost_needs_no_token_and_refuses_writes(local: StatusServer) -> None:
    base = f"http://127.0.0.1:{local.server_address[1]}"
    assert local.url == base + "/"
    code, body = _get(base + "/")
    assert code == 200 and "<title>snowpg status</title>" in body
    code, body = _get(base + "/api/status")
    assert code == 200 and '"source_name": "src"' in body
    code, body = _get(base + "/report")
    assert code == 200 and "snowpg run report" in body
    assert _get(base + "/api/status", method="POST")[0] == 405
    assert _get(base + "/api/status", method="DELETE")[0] == 405
    assert _get(base + "/nope")[0] == 404


def test_other_addresses_require_the_token(exposed: StatusServer) -> None:
    base = f"http://127.0.0.1:{exposed.server_address[1]}"
    assert exposed.url.endswith("/?token=s3cret-token")
    assert _get(base + "/healthz") == (200, "ok")
    for path in ("/", "/api/status", "/report"):
        assert _get(base + path)[0] == 401
        assert _get(base + path + "?token=wrong")[0] == 401
        assert _get(base + path + "?token=s3cret-token")[0] == 200
    assert _get(base + "/api/status", {"Authorization": "Bearer s3cret-token"})[0] == 200


def test_binding_elsewhere_without_a_token_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"binding to 0\.0\.0\.0 needs a token"):
        StatusServer(ServeOptions(host="0.0.0.0", port=0), _status, lambda: [])
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("")
