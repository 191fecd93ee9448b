"""The PostgreSQL adapter: connections, the catalog, DDL, COPY and merge statements.

Every statement snowpg sends to PostgreSQL outside ``migration_status`` is written here. May import
the ground modules (errors, model, names, sqltext, logs, contract, typefamilies) and ``config``;
never ``status``, ``plan``, ``copy`` or anything above.
"""
