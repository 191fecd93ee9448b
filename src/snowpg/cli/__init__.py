"""The command line: ``snowpg`` and its commands, their shared options, consoles and rendering.

A face: it may import every layer below it and the other faces (``aws``, ``observe``, ``demo``);
nothing imports it. Each command imports what it runs inside the command, to keep start-up fast:
``snowpg --help`` or a mistyped option answers without loading pyarrow, psycopg or the Snowflake
connector.
"""
