"""Every table module, imported once so the metadata is complete (Alembic, tests)."""

from hotline.db.tables import metadata

__all__ = ["metadata"]
