"""The ``migration_status`` schema: the only home of its SQL, its rows and its claim protocol.

``schema`` creates and upgrades it (``views`` beside it); ``store`` is the one door the run
uses for the run, table and chunk rows (``runs``, ``tables``, ``chunks``, the exactly-once
``claims`` and their ``failures``, ``verified``); ``presence`` holds the advisory locks of the
processes of a run; ``fresh`` decides which run a repeated fresh-run request continues;
``collect`` reads a run's report, whose types and numbers are ``report``'s.

May import the ground modules (errors, model, names, sqltext, logs, contract, typefamilies),
``config`` and the database adapters (``source``, ``target``); never ``plan``, ``copy``, the run
(``run``, ``verify``, ``sync``, ``checks``) or the faces. It opens no connection of its
own: every function takes the connection its caller opened.
"""
