"""The pull-request side: render, diff, CI formats."""
