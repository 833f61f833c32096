"""Integrations: shops' signed webhooks in, Standard Webhooks out (issue 21)."""
