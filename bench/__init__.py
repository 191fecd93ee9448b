"""snowpg benchmark: `python -m bench.run --rows 1000000` (not part of the test suite)."""
