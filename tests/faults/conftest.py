from tests.fixtures.proxy import fakesnow_proxy, pg_proxy

__all__ = ["fakesnow_proxy", "pg_proxy"]
