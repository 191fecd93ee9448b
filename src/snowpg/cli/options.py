"""Command-line options shared by several commands, spelled once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="config.json path [default: $SNOWPG_CONFIG or ./config.json]"
    ),
]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source", "-s", help="source_name (comma-separated for several) [default: all enabled]"
    ),
]
TablesOpt = Annotated[
    str | None, typer.Option("--tables", "-t", help="only these source tables, comma-separated")
]
RunOpt = Annotated[
    str | None, typer.Option("--run", help="a run id [default: the newest run of each source]")
]
