"""What customers send: `webhook` (every provider's webhook), `receive` (one inbound message),
`answer` (a conversation turn applied to the rows), `statuses` (delivery reports)."""
