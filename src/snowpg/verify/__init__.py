"""Verification: source and target compared per chunk by row count and an order-independent
checksum of canonical row text. See docs/verify.md.

Modules: ``jsontext`` (JSON values by content, on the client), ``queries`` (a row key shown
back), ``compare`` (one chunk, differing keys, status rows), ``run`` (a whole run). The value
rules and the table spec are the ground's ``snowpg.checksum_spec``; the SQL of both sides is the
adapters' (``source.checksums``, ``target.checksums``).

What verify may import: the ground modules, ``config``, the adapters (``source``, ``target``),
``status``, and the steps ``plan`` and ``copy``, each at module top. Never the faces (``cli``,
``aws``, ``observe``, ``demo``): they import verify.
"""
