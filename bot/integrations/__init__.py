"""Integrations: shops' signed order webhooks in, Standard Webhooks out (issue 21,
docs/integrations.md)."""
