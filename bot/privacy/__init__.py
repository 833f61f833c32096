"""Customers' rights: erasure, retention, access and consent (issue 20, docs/privacy.md)."""
