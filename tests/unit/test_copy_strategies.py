"""A table's copy strategies are chosen once, from its job; each chunk then takes one of them."""

from __future__ import annotations

import threading
import uuid
from typing import cast

from snowpg.config import Settings
from snowpg.copy.context import WorkerContext
from snowpg.copy.job import TableJob
from snowpg.copy.strategies import CopyIntoTarget, DeleteCheck, StageAndMerge, table_copy
from snowpg.copy.upsert import UpsertSpec
from snowpg.model import SourceColumn, SourceTable
from snowpg.sinks import ProgressSink
from snowpg.status.rows import TableKey

KEY = TableKey(uuid.uuid4(), "D", "S", "T")


def _job(spec: UpsertSpec | None) -> TableJob:
    return TableJob(
        key=KEY,
        source=SourceTable("D", "S", "T", (SourceColumn("ID", "NUMBER", 38, 0, None, False, 1),)),
        source_columns=("ID",),
        target_schema="public",
        target_table="t",
        target_columns=("id",),
        json_columns=(),
        source_filter=None,
        display_name="T",
        upsert=spec,
    )


def _spec(*, initial: bool = False, delete_from: int | None = None) -> UpsertSpec:
    return UpsertSpec(
        source_keys=("ID",),
        target_keys=("id",),
        insert_only=False,
        initial=initial,
        base_filter=None,
        delete_from=delete_from,
    )


def test_a_full_load_copies_every_chunk_into_the_target() -> None:
    copy = table_copy(_job(None))
    assert isinstance(copy.for_chunk(1), CopyIntoTarget) and copy.delete_check is None
    assert copy.for_chunk(1000) is copy.for_chunk(1)


def test_an_incremental_table_merges_unless_its_target_was_empty() -> None:
    assert isinstance(table_copy(_job(_spec())).for_chunk(1), StageAndMerge)
    assert type(table_copy(_job(_spec(initial=True))).for_chunk(1)) is CopyIntoTarget


def test_chunks_from_delete_from_on_are_delete_checks() -> None:
    copy = table_copy(_job(_spec(delete_from=7)))
    assert isinstance(copy.for_chunk(6), StageAndMerge)
    assert isinstance(copy.for_chunk(7), DeleteCheck) and copy.for_chunk(8) is copy.for_chunk(7)


def test_the_worker_context_chooses_each_tables_strategies_once() -> None:
    # Making the context reads no setting; the workers read them later.
    settings = cast(Settings, None)
    ctx = WorkerContext(
        settings=settings,
        run_id=KEY.run_id,
        target_database="d",
        source_database="D",
        source_schema="S",
        jobs={KEY: _job(_spec(delete_from=3))},
        table_limits={KEY: 1},
        deadline=None,
        stop=threading.Event(),
        progress=ProgressSink(),
        on_table_chunk_done=lambda _conn, _key: None,
    )
    assert list(ctx.copies) == [KEY]
    assert isinstance(ctx.copies[KEY].for_chunk(3), DeleteCheck)
