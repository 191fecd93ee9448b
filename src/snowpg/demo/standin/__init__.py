"""A Snowflake stand-in that speaks the service's wire format, layered on the fakesnow server."""
