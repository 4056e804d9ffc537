"""Run state: journals, locks, run records."""
