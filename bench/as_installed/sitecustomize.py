"""Run a benchmark subprocess as a user's install runs it: without pandas.

The development venv has pandas only because fakesnow (the test server) needs it; the Snowflake
connector and pyarrow import it whenever it is importable (~33 MB of RSS), but a production install
of snowpg (``pip install snowpg``, the Lambda layer) does not have it. ``bench.run`` puts this
directory on PYTHONPATH of the ``snowpg migrate`` processes it measures unless ``--with-pandas``.
"""

import importlib.abc
import sys


class _NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):  # type: ignore[no-untyped-def]
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoPandas())
