"""One run of one source, as its steps: open the run (``lifecycle``), plan and prepare its tables
(``prepare``), turn status rows into copy jobs (``jobs``), copy them in a pool of workers
(``pool``), close the run and report it (``lifecycle``, ``summary``); ``migrate`` calls them in
that order, and ``options`` holds what goes in and comes out.

May import the ground modules, ``config``, the adapters (``source``, ``target``), ``status``,
``plan`` and ``copy``; never the faces (``cli``, ``aws``, ``observe``, ``demo``).
"""
