"""case withdrawal: an Article 14 case opened in error (nothing submitted) is withdrawn — who,
when, why — and kept, never deleted; its clocks stop (``closed_at`` is set with it).

ADD COLUMN only, so no table is rebuilt on SQLite; the reason is NOT NULL with an empty
default, so existing cases read as never withdrawn.

Revision ID: 0017_h16c
Revises: 0016_h18a
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017_h16c'
down_revision = '0016_h18a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('article14_cases',
                  sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('article14_cases',
                  sa.Column('withdrawn_by', sa.String(length=320), nullable=True))
    op.add_column('article14_cases',
                  sa.Column('withdrawal_reason', sa.Text(), server_default='', nullable=False))


def downgrade() -> None:
    for column in ('withdrawal_reason', 'withdrawn_by', 'withdrawn_at'):
        op.drop_column('article14_cases', column)  # ALTER TABLE DROP COLUMN (SQLite >= 3.35)
