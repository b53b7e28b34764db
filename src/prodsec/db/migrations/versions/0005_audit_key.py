"""audit key: audit events record the id of the server key their HMAC was made with

Events written before this revision keep ``key_id`` NULL: they were hashed with plain SHA-256
and still verify that way (as the prefix of their chain).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch copy): on SQLite a table rebuild would drop the append-only
    # triggers on audit_events.
    op.add_column('audit_events', sa.Column('key_id', sa.String(length=16), nullable=True))


def downgrade() -> None:
    # DROP COLUMN rebuilds nothing on PostgreSQL; SQLite (>= 3.35) drops it in place too.
    op.drop_column('audit_events', 'key_id')
