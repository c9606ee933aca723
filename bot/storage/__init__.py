"""The database: schema and migrations, the ledger, proposals, plans, the inbox and the outbox."""
