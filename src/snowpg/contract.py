"""The load contract of one table: what was planned, written once with its status row.

The run that plans a table writes the contract into ``migration_table_status.metadata``; a
resumed run, its workers and ``snowpg verify`` read it back instead of describing the table in
Snowflake again. :meth:`TableContract.to_json` keeps every key earlier versions wrote
(``columns``, ``source_filter``, ``incremental``, ``saved_indexes``, ...) and adds the typed
ones, so status readers and monitoring SQL keep working. A row written before contracts existed
has no ``contract_version``; :func:`TableContract.from_json` returns None for it and the caller
describes the table in Snowflake as before.

Frozen and free of I/O, like :mod:`snowpg.model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from snowpg.model import ColumnMapping, SourceColumn, SourceTable, TablePlan

CONTRACT_VERSION = 1


@dataclass(frozen=True)
class SavedIndex:
    """A secondary index dropped for the load: PostgreSQL's ``pg_get_indexdef()`` text."""

    name: str
    definition: str


@dataclass(frozen=True)
class TableContract:
    source: SourceTable  # identity, columns with their Snowflake types, primary key
    mappings: tuple[ColumnMapping, ...]
    source_filter: str | None = None
    nul_policy: str = "fail"
    copy_format: str = "auto"
    # Incremental settings and watermark window (snowpg.plan.watermark); None = full load.
    incremental: dict[str, Any] | None = None
    saved_indexes: tuple[SavedIndex, ...] = ()
    created_target: bool = False
    truncated: bool = False
    skipped_source_columns: tuple[str, ...] = ()
    unfilled_target_columns: tuple[str, ...] = ()

    @property
    def load_mode(self) -> str:
        return "full" if self.incremental is None else "incremental"

    @classmethod
    def from_plan(
        cls, plan: TablePlan, saved_indexes: tuple[SavedIndex, ...] = ()
    ) -> TableContract:
        return cls(
            source=SourceTable(
                database=plan.source.database,
                schema=plan.source.schema,
                name=plan.source.name,
                columns=plan.source.columns,
                primary_key=plan.source.primary_key,
                retention_days=plan.source.retention_days,
            ),
            mappings=plan.mappings,
            source_filter=plan.source_filter,
            nul_policy=plan.nul_policy,
            copy_format=plan.copy_format,
            incremental=plan.incremental,
            saved_indexes=saved_indexes,
            created_target=plan.create_target,
            truncated=plan.truncate_onstart and not plan.create_target,
            skipped_source_columns=plan.skipped_source_columns,
            unfilled_target_columns=plan.unfilled_target_columns,
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "created_target": self.created_target,
            "truncated": self.truncated,
            "columns": [[m.source, m.target] for m in self.mappings],
            "skipped_source_columns": list(self.skipped_source_columns),
            "unfilled_target_columns": list(self.unfilled_target_columns),
            "source_filter": self.source_filter,
            "contract_version": CONTRACT_VERSION,
            "load_mode": self.load_mode,
            "source": {
                "database": self.source.database,
                "schema": self.source.schema,
                "name": self.source.name,
                "primary_key": list(self.source.primary_key),
                "columns": [_column_json(c) for c in self.source.columns],
                "retention_days": self.source.retention_days,
            },
            "mappings": [
                {
                    "source": m.source,
                    "target": m.target,
                    "source_type": m.source_type,
                    "pg_type": m.pg_type,
                }
                for m in self.mappings
            ],
            "nul_policy": self.nul_policy,
            "copy_format": self.copy_format,
        }
        if self.incremental is not None:
            data["incremental"] = self.incremental
        if self.saved_indexes:
            data["saved_indexes"] = [
                {"name": i.name, "definition": i.definition} for i in self.saved_indexes
            ]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableContract | None:
        """The contract in a status row's metadata; None for a row written without one."""
        if data.get("contract_version") is None or not isinstance(data.get("source"), dict):
            return None
        src = data["source"]
        inc = data.get("incremental")
        return cls(
            source=SourceTable(
                database=str(src["database"]),
                schema=str(src["schema"]),
                name=str(src["name"]),
                columns=tuple(_column_from(c) for c in src.get("columns") or ()),
                primary_key=tuple(src.get("primary_key") or ()),
                retention_days=_opt_int(src.get("retention_days")),
            ),
            mappings=tuple(
                ColumnMapping(
                    source=str(m["source"]),
                    target=str(m["target"]),
                    source_type=str(m["source_type"]),
                    pg_type=str(m["pg_type"]),
                )
                for m in data.get("mappings") or ()
            ),
            source_filter=data.get("source_filter"),
            nul_policy=str(data.get("nul_policy") or "fail"),
            copy_format=str(data.get("copy_format") or "auto"),
            incremental=inc if isinstance(inc, dict) else None,
            saved_indexes=tuple(
                SavedIndex(str(i["name"]), str(i["definition"]))
                for i in data.get("saved_indexes") or ()
            ),
            created_target=bool(data.get("created_target")),
            truncated=bool(data.get("truncated")),
            skipped_source_columns=tuple(data.get("skipped_source_columns") or ()),
            unfilled_target_columns=tuple(data.get("unfilled_target_columns") or ()),
        )


def _column_json(c: SourceColumn) -> dict[str, Any]:
    return {
        "name": c.name,
        "data_type": c.data_type,
        "precision": c.precision,
        "scale": c.scale,
        "length": c.length,
        "nullable": c.nullable,
        "position": c.position,
    }


def _opt_int(v: Any) -> int | None:
    return int(v) if v is not None else None


def _column_from(c: dict[str, Any]) -> SourceColumn:
    return SourceColumn(
        name=str(c["name"]),
        data_type=str(c["data_type"]),
        precision=_opt_int(c.get("precision")),
        scale=_opt_int(c.get("scale")),
        length=_opt_int(c.get("length")),
        nullable=bool(c.get("nullable", True)),
        position=int(c.get("position") or 0),
    )
