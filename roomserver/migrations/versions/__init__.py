"""Alembic revision scripts, one per schema change, hand-written."""
