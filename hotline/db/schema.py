"""Every table module, imported once so the metadata is complete (Alembic, tests)."""

import hotline.callbacks.tables  # noqa: F401
import hotline.cluster.lease  # noqa: F401
import hotline.floor.tables  # noqa: F401
import hotline.keepplace.tables  # noqa: F401
import hotline.routing.tables  # noqa: F401
import hotline.tickets.tables  # noqa: F401
from hotline.db.tables import metadata

__all__ = ["metadata"]
