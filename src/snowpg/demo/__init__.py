"""Local stand-ins for ``snowpg demo``, the tests and the benchmarks: the Snowflake stand-in in
front of a fakesnow server, an embedded PostgreSQL, and the sample tables.

May import the layers below the faces (the Snowflake adapter for its session options); never
``cli`` or ``aws``. Its SQL is sample data and emulation, not the migration path.
"""
