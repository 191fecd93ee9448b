"""snowpg: move Snowflake tables into PostgreSQL, exactly once, resumable and observable."""

__version__ = "0.1.0"
