"""Insights: NPS, trend, themes, breakdowns and response lists, as plain queries over a Session.

`filters` (query arguments → conditions), `reports` (aggregates), `lists` (responses, open
cases), `rollup` (daily counts and their refresh), `plan` (rollup + raw), `sql` (shared
expressions), `exports` (terminal report, CSV / XLSX). Callers import the module they use.
"""
