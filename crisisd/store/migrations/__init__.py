"""Alembic migrations of the crisisd store (applied on start and by `crisisd db upgrade`)."""
