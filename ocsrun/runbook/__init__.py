"""The runbook format: reading, checking and modelling runbooks."""
