"""Executing a runbook with an operator."""
