"""Copying one chunk: encode Arrow batches for COPY, one copy strategy per chunk kind, the worker.

A step: may import the ground modules, ``config``, the adapters (``source``, ``target``),
``status`` and ``plan``; never the run (``run``, ``engine``, ``verify``) or the faces (``cli``,
``aws``, ``observe``, ``demo``), which install its sinks (progress, metrics) instead.
"""
