"""Orders in the database: recording and reading them, their items, and privacy requests."""
