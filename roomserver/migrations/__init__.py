"""Alembic migrations of the roomserver schema (the only owner of the schema)."""
