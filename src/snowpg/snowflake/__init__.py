"""The Snowflake adapter: sessions, the catalog, result batches as Arrow, and the SQL that reads.

Every statement snowpg sends to Snowflake is written here. May import the ground modules
(errors, model, names, sqltext, logs, typefamilies) and ``config``; nothing above.
"""
