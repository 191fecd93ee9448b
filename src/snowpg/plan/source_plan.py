"""Plan a source's tables from one catalog statement: check them all, then cut them one by one.

:meth:`SourcePlanner.check` describes every table to plan with one Snowflake statement
(:mod:`snowpg.snowflake.schema_catalog`) and checks what the catalogs can tell — missing tables
and columns, name collisions, non-empty targets — for all of them at once, asking Snowflake
nothing more. :meth:`SourcePlanner.plan` then plans one table (its chunk boundaries and, for an
incremental table, its watermark window) from that description: the run commits each plan as
soon as it is made and can stop between tables at a deadline.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from snowpg.config import Settings, SourceConfig, TableConfig
from snowpg.model import TablePlan
from snowpg.plan.planner import plan_table
from snowpg.plan.preflight import Preflight, check_tables
from snowpg.postgres import connection
from snowpg.snowflake import schema_catalog, session
from snowpg.snowflake.schema_catalog import SchemaCatalog


class SourcePlanner:
    """Plans tables of one source; holds one Snowflake connection, opened on first use."""

    def __init__(self, settings: Settings, source: SourceConfig, pg_conn: Any) -> None:
        self.settings = settings
        self.source = source
        self.pg_conn = pg_conn
        self.catalog: SchemaCatalog | None = None
        self._whole_schema = False
        self._sf: Any = None

    def sf(self) -> Any:
        if self._sf is None:
            self._sf = session.connect(
                self.settings.snowflake,
                database=self.source.source_sf_database,
                schema=self.source.source_sf_schema,
            )
        return self._sf

    def describe(self, tables: Sequence[TableConfig] | None) -> SchemaCatalog:
        """One catalog statement for ``tables`` (None: the whole schema)."""
        names = None if tables is None else [t.source for t in tables]
        self.catalog = schema_catalog.describe_schema(
            self.sf(), self.source.source_sf_database, self.source.source_sf_schema, names
        )
        self._whole_schema = tables is None
        return self.catalog

    def check(self, tables: Sequence[TableConfig]) -> Preflight:
        """Every problem of ``tables`` the catalogs show; one Snowflake statement in all."""
        if not tables:
            return Preflight()
        # A whole-schema catalog already read (discovery) serves: no second statement.
        catalog = self.catalog if self._whole_schema and self.catalog else self.describe(tables)
        return check_tables(
            tables,
            lambda t: plan_table(
                self.settings,
                self.source,
                t,
                None,
                self.pg_conn,
                described=catalog.find(t.source),
                cut=False,
            ),
            self.pg_conn,
        )

    def plan(self, table: TableConfig) -> TablePlan:
        """The full plan of one checked table (its chunks), from the catalog's description."""
        catalog = self.catalog or self.describe([table])
        return plan_table(
            self.settings,
            self.source,
            table,
            self.sf(),
            self.pg_conn,
            described=catalog.find(table.source),
        )

    def close(self) -> None:
        if self._sf is not None:
            with contextlib.suppress(Exception):
                self._sf.close()
            self._sf = None


def preflight_source(
    settings: Settings, source: SourceConfig, tables_filter: Sequence[str] | str | None = None
) -> Preflight:
    """The full plans of the tables that can be planned, and every problem ``migrate`` would
    meet; one catalog statement for all of them."""
    selected = source.select_tables(tables_filter)
    planner = SourcePlanner(settings, source, None)
    try:
        planner.sf()
        pg = connection.connect(settings.postgres, source.target_pg_database)
        try:
            planner.pg_conn = pg
            if selected:
                planner.describe(selected)
            return check_tables(selected, planner.plan, pg)
        finally:
            pg.close()
    finally:
        planner.close()
