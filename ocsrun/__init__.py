"""ocsrun: schema-validated YAML runbooks, executed step by step with a human operator."""

__version__ = "0.1.0"
