"""The Lambda face: the handler, its actions and events, Step Functions definitions and deploy.

A face: it may import every layer below it and ``observe``; never ``cli``. The handler imports
what each action runs inside the action, on first use, to keep start-up (a cold start) fast:
the handler module loads without pyarrow, psycopg or the Snowflake connector.
"""
