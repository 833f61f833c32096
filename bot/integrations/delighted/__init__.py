"""Delighted's v1 API, the compatible subset (`/delighted/v1/`), and its export's import.

Delighted shut down on 2026-06-30; its customers' integrations call its API through its client
libraries. Each operation here maps one of its endpoints onto npsbot's own path: a person with a
survey request is a purchase (`bot.survey.purchases.register_purchase`), a delete an erasure, an
unsubscribe an opt-out. Field by field: docs/integrations.md, "Moving from Delighted".
"""
