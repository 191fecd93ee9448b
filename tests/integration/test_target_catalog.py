"""Target introspect reads, composed DDL and connections, against the real PostgreSQL server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors

from snowpg.errors import TargetError, TargetUnavailable
from snowpg.model import SourceColumn, TargetColumn
from snowpg.plan import typemap
from snowpg.postgres import ddl, introspect
from snowpg.postgres.connection import connect, translate_pg_error

pytestmark = pytest.mark.integration

EVIL = 'x"; DROP TABLE y; --'
PASSWORD = "Sup3r-Secret-Pw"


class StandInSettings:
    """Just the two methods of PostgresSettings that connection.connect uses."""

    def __init__(self, host: str, port: int, user: str, password: str) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password

    def conninfo(self, dbname: str) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=str(self.port),
            user=self.user,
            password=self.password or None,
            dbname=dbname,
            connect_timeout=5,
        )

    def describe(self, dbname: str) -> str:
        return f"{self.user}@{self.host}:{self.port}/{dbname}"


@pytest.fixture
def conn(pg_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_dsn, autocommit=True) as c:
        yield c


def test_table_columns_reads_types_order_and_nullability(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        'CREATE TABLE public."Claims" (id bigint PRIMARY KEY, gone int, "Payer Name" varchar(20),'
        " amount numeric(38,2) NOT NULL, at timestamptz, doubled bigint GENERATED ALWAYS AS"
        " (id * 2) STORED)"
    )
    conn.execute('ALTER TABLE public."Claims" DROP COLUMN gone')
    assert introspect.table_columns(conn, "public", "Claims") == [
        TargetColumn("id", "bigint", nullable=False),
        TargetColumn("Payer Name", "character varying(20)", nullable=True),
        TargetColumn("amount", "numeric(38,2)", nullable=False),
        TargetColumn("at", "timestamp with time zone", nullable=True),
    ]
    assert introspect.table_columns(conn, "public", "claims") is None
    assert introspect.table_columns(conn, "nosuchschema", "Claims") is None


def test_table_and_schema_exist_match_exact_names(conn: psycopg.Connection[Any]) -> None:
    conn.execute('CREATE SCHEMA "Raw"')
    conn.execute('CREATE TABLE "Raw"."Payer Id" (a int)')
    conn.execute('CREATE VIEW "Raw".v AS SELECT 1 AS a')
    assert introspect.schema_exists(conn, "Raw") and not introspect.schema_exists(conn, "raw")
    assert introspect.table_exists(conn, "Raw", "Payer Id")
    assert not introspect.table_exists(conn, "Raw", "payer id")
    assert not introspect.table_exists(conn, "Raw", "v")  # a view is not a COPY target


def test_a_table_without_columns_exists_with_no_columns(conn: psycopg.Connection[Any]) -> None:
    conn.execute("CREATE TABLE public.empty ()")
    assert introspect.table_columns(conn, "public", "empty") == []


def test_secondary_indexes_leave_out_constraint_indexes(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "CREATE TABLE public.t (id int PRIMARY KEY, code text UNIQUE, a int, b int,"
        " EXCLUDE (b WITH =))"
    )
    conn.execute("CREATE INDEX t_a_idx ON public.t (a)")
    conn.execute('CREATE UNIQUE INDEX "T b+a" ON public.t (b, a)')
    conn.execute("CREATE TABLE public.other (x int)")
    conn.execute("CREATE INDEX other_x_idx ON public.other (x)")
    found = introspect.secondary_indexes(conn, "public", "t")
    assert [i.name for i in found] == ["T b+a", "t_a_idx"]
    assert found[1].definition == "CREATE INDEX t_a_idx ON public.t USING btree (a)"
    assert introspect.secondary_indexes(conn, "public", "missing") == []

    # Dropped by name and recreated from the saved definition, as a load with disable_index does.
    for idx in found:
        conn.execute(ddl.drop_index("public", idx.name))
    assert introspect.secondary_indexes(conn, "public", "t") == []
    for idx in found:
        conn.execute(psycopg.sql.SQL(idx.definition))
    assert introspect.secondary_indexes(conn, "public", "t") == found


def test_injection_looking_names_create_exactly_that_table(conn: psycopg.Connection[Any]) -> None:
    conn.execute("CREATE TABLE public.y (a int)")
    conn.execute(ddl.create_schema(EVIL))
    conn.execute(ddl.create_table(EVIL, EVIL, [(EVIL, "text", False)], [EVIL]))
    assert introspect.table_columns(conn, EVIL, EVIL) == [TargetColumn(EVIL, "text", False)]
    assert introspect.table_exists(conn, "public", "y")
    with conn.cursor() as cur:
        with cur.copy(ddl.copy_from_stdin(EVIL, EVIL, [EVIL])) as copy:
            copy.write('"a;b"\n')
        assert cur.execute(ddl.count_rows(EVIL, EVIL)).fetchone() == (1,)
        assert cur.execute(ddl.table_has_rows(EVIL, EVIL)).fetchone() == (True,)
        cur.execute(ddl.truncate_table(EVIL, EVIL))
        assert cur.execute(ddl.table_has_rows(EVIL, EVIL)).fetchone() == (False,)


def test_every_typemap_type_creates_a_column(conn: psycopg.Connection[Any]) -> None:
    names = typemap.known_types()
    cols = [
        (f"c{i}", typemap.pg_type_for(SourceColumn(n, n, precision=4, scale=0, length=50)), True)
        for i, n in enumerate(names)
    ]
    conn.execute(ddl.create_table("public", "all_types", cols))
    found = introspect.table_columns(conn, "public", "all_types")
    assert found is not None and len(found) == len(names)
    by_name = {c.name: c.pg_type for c in found}
    assert by_name[f"c{names.index('TIMESTAMP_TZ')}"] == "timestamp with time zone"
    assert by_name[f"c{names.index('VARIANT')}"] == "jsonb"
    assert by_name[f"c{names.index('TEXT')}"] == "character varying(50)"


# connections -------------------------------------------------------------------------------


def test_connect_sets_application_name_and_keepalives(pg_server: Any, pg_database: str) -> None:
    settings = StandInSettings(pg_server.host, pg_server.port, pg_server.user, pg_server.password)
    with connect(settings, pg_database, autocommit=True, application_name="snowpg-test") as c:  # type: ignore[arg-type]
        assert c.autocommit
        assert c.execute("SHOW application_name").fetchone() == ("snowpg-test",)
        assert c.execute("SELECT current_database()").fetchone() == (pg_database,)
        params = c.info.get_parameters()
        assert params["keepalives"] == "1" and params["keepalives_idle"] == "30"
        assert params["keepalives_interval"] == "10" and params["keepalives_count"] == "3"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refused_port_is_transient_and_names_server_without_password() -> None:
    settings = StandInSettings("127.0.0.1", _free_port(), "loader", PASSWORD)
    with pytest.raises(TargetUnavailable) as info:
        connect(settings, "claims")  # type: ignore[arg-type]
    text = str(info.value)
    assert f"loader@127.0.0.1:{settings.port}/claims" in text
    assert "POSTGRES_HOST" in text and "security group" in text
    assert PASSWORD not in text


def test_unknown_role_is_terminal(pg_server: Any, pg_database: str) -> None:
    settings = StandInSettings(pg_server.host, pg_server.port, "no_such_role_x", PASSWORD)
    with pytest.raises(TargetError) as info:
        connect(settings, pg_database)  # type: ignore[arg-type]
    assert not isinstance(info.value, TargetUnavailable)
    assert "no_such_role_x" in str(info.value) and "POSTGRES_USER" in str(info.value)
    assert PASSWORD not in str(info.value)


def test_server_errors_are_classified(pg_server: Any, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as a, psycopg.connect(pg_dsn) as b:
        a.execute("CREATE TABLE public.locked (k int PRIMARY KEY)")
        a.execute("INSERT INTO public.locked VALUES (1), (2)")
        a.commit()

        a.execute("LOCK TABLE public.locked")
        with pytest.raises(psycopg.Error) as nowait:
            b.execute("LOCK TABLE public.locked NOWAIT")
        err = translate_pg_error(nowait.value, context="loading locked")
        assert type(err) is TargetError and "(SQLSTATE 55P03)" in str(err)
        assert str(err).startswith("loading locked: could not obtain lock")
        a.rollback()
        b.rollback()

        # Two transactions each waiting for the other's row: PostgreSQL aborts one (40P01).
        a.execute("UPDATE public.locked SET k = k WHERE k = 1")
        b.execute("UPDATE public.locked SET k = k WHERE k = 2")
        failures: list[BaseException] = []

        def lock_second() -> None:
            try:
                a.execute("UPDATE public.locked SET k = k WHERE k = 2")
            except psycopg.Error as exc:
                failures.append(exc)

        t = threading.Thread(target=lock_second)
        t.start()
        try:
            b.execute("UPDATE public.locked SET k = k WHERE k = 1")
        except psycopg.Error as exc:
            failures.append(exc)
        t.join(10)
        assert len(failures) == 1 and isinstance(failures[0], pg_errors.DeadlockDetected)
        assert isinstance(translate_pg_error(failures[0], context="x"), TargetUnavailable)
        a.rollback()
        b.rollback()

        # The server ends b's session (as a restart or failover would): 57P01, retryable.
        pid = b.info.backend_pid
        a.execute("SELECT pg_terminate_backend(%s)", [pid])
        a.commit()
        with pytest.raises(psycopg.Error) as killed:
            b.execute("SELECT 1")
        assert isinstance(translate_pg_error(killed.value, context="x"), TargetUnavailable)

        with pytest.raises(psycopg.Error) as missing:
            a.execute("SELECT * FROM public.nope")
        err = translate_pg_error(missing.value, context="counting rows")
        assert type(err) is TargetError and "(SQLSTATE 42P01)" in str(err)
        assert "\n" not in str(err)


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (pg_errors.SerializationFailure("could not serialize access"), True),
        (pg_errors.DeadlockDetected("deadlock detected"), True),
        (pg_errors.AdminShutdown("terminating connection"), True),
        (pg_errors.CrashShutdown("crash"), True),
        (pg_errors.CannotConnectNow("the database system is starting up"), True),
        (pg_errors.ConnectionFailure("connection failure"), True),
        (psycopg.OperationalError("server closed the connection unexpectedly"), True),
        (pg_errors.LockNotAvailable("could not obtain lock"), False),
        (pg_errors.QueryCanceled("canceling statement due to statement timeout"), False),
        (pg_errors.UniqueViolation("duplicate key"), False),
        (pg_errors.InvalidTextRepresentation("invalid input syntax"), False),
        (psycopg.ProgrammingError("password=hunter22 is wrong\nsecond line"), False),
    ],
)
def test_translate_pg_error_classes(exc: BaseException, transient: bool) -> None:
    err = translate_pg_error(exc, context="writing chunk 3")
    assert isinstance(err, TargetError)
    assert isinstance(err, TargetUnavailable) is transient
    assert str(err).startswith("writing chunk 3: ")
    assert "hunter22" not in str(err) and "second line" not in str(err)
