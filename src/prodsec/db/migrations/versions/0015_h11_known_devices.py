"""known devices: device cookies are remembered (hashed) so their user or an admin can revoke
them; a cookie without its row gives no back-off exemption at sign-in.

Revision ID: 0012_h11
Revises: 0012_h17b
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012_h11'
down_revision = '0012_h17b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('known_devices',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_known_devices_user_id'), 'known_devices', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_known_devices_user_id'), table_name='known_devices')
    op.drop_table('known_devices')
