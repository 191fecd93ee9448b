"""Planning: what each table loads, where, and cut into which chunks. Reads, never writes.

Modules: ``preflight`` (every selected table planned and every problem collected, as ``snowpg
plan`` and ``migrate`` both do), ``planner`` (``plan_table``: the one plan of one table, an
incremental table's watermark window included), ``watermark`` (the window, upsert keys and
delete-check chunks of an incremental run), ``columns`` (source -> target columns), ``typemap``
(Snowflake -> PostgreSQL types), ``boundaries``, ``chunking`` and ``sizing`` (the chunks).

What plan may import: the ground modules (``snowpg.errors``, ``model``, ``names``, ``sqltext``,
``logs``, ``contract``, ``typefamilies``, ``checksum_spec``), ``config``, the adapters
(``source``, ``target``) and ``status``, each at module top. Never ``copy``, the run
(``run``/``engine``, ``verify``, ``sync``, ``checks``) or the faces: they import plan.
"""
