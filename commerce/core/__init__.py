"""Shared kernel: money helpers, base models, the API error format, pagination, request ids and health."""
