"""ingested CSAF documents and pinned publisher keys: the SHA-256 and TLP label of each
(publisher namespace, tracking id, version) ingested, and the OpenPGP key first seen per
publisher namespace (CSAF 2.0 3.2.1.5, 3.2.1.12.4, 3.2.1.12.8; review h18r H1, H2).

Revision ID: 0018_h18d
Revises: 0017_h16c
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018_h18d'
down_revision = '0017_h16c'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ingested_csaf',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('namespace', sa.String(length=500), nullable=False),
    sa.Column('tracking_id', sa.String(length=200), nullable=False),
    sa.Column('version', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('tlp', sa.String(length=10), nullable=True),
    sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('org_id', 'namespace', 'tracking_id', 'version')
    )
    op.create_index(op.f('ix_ingested_csaf_org_id'), 'ingested_csaf', ['org_id'], unique=False)
    op.create_table('csaf_publisher_keys',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('namespace', sa.String(length=500), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('pinned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('org_id', 'namespace')
    )
    op.create_index(op.f('ix_csaf_publisher_keys_org_id'), 'csaf_publisher_keys', ['org_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_csaf_publisher_keys_org_id'), table_name='csaf_publisher_keys')
    op.drop_table('csaf_publisher_keys')
    op.drop_index(op.f('ix_ingested_csaf_org_id'), table_name='ingested_csaf')
    op.drop_table('ingested_csaf')
