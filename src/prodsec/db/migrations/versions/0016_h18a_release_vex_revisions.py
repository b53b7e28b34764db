"""release VEX revisions: each content of a release's CSAF VEX gets a version and a date, so
its stable location hands out version n+1 when what it says changed and the same version when
it did not (CSAF 2.0 3.2.1.12 tracking).

Revision ID: 0016_h18a
Revises: 0012_h11
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016_h18a'
down_revision = '0012_h11'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('release_vex_revisions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('release_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['release_id'], ['releases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('release_id', 'version')
    )
    op.create_index(op.f('ix_release_vex_revisions_org_id'), 'release_vex_revisions', ['org_id'],
                    unique=False)
    op.create_index(op.f('ix_release_vex_revisions_release_id'), 'release_vex_revisions',
                    ['release_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_release_vex_revisions_release_id'), table_name='release_vex_revisions')
    op.drop_index(op.f('ix_release_vex_revisions_org_id'), table_name='release_vex_revisions')
    op.drop_table('release_vex_revisions')
