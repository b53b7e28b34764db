"""product archive: an archived product is hidden from the portfolio and read-only until restored

One nullable column, ``products.archived_at`` (NULL: not archived). ADD COLUMN only, so no
table is rebuilt on SQLite.

Revision ID: 0012_h16b
Revises: 0011_h18_sbom_parts
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012_h16b'
down_revision = '0011_h18_sbom_parts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('products', sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('products', 'archived_at')  # ALTER TABLE DROP COLUMN (SQLite >= 3.35)
