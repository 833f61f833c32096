"""Due work, claimed from the database: invitations, the outbox, expiries and leases."""
