"""Watching a migration: the status web page, the HTML run report and CloudWatch EMF metrics.

A face: it may import every layer below it (ground, config, the adapters, status, plan, copy, the
run) but not ``cli`` or ``aws``, which install its pieces.
"""
