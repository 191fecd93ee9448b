"""Watching a migration: the status web page, the HTML run report and CloudWatch EMF metrics."""
