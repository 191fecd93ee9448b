"""Verification: source and target compared per chunk by row count and an order-independent
checksum of canonical row text (``canonical``: the value rules; ``jsontext``: JSON values by
content, on the client; ``queries``: the SQL of both sides; ``compare``: one chunk, differing
keys, status rows; ``run``: a whole run). See docs/verify.md."""
