"""Fixtures for the AWS tests: the snowpg logger is restored after the handler configured it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _restore_snowpg_logger() -> Iterator[None]:
    logger = logging.getLogger("snowpg")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]
