"""Alembic migrations of certhook's schema, applied by `certhook serve` (and Database.upgrade)."""
