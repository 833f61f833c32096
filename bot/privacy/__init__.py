"""Customers' rights: erasure, retention, access (export) and consent (issue 20,
docs/privacy.md)."""
