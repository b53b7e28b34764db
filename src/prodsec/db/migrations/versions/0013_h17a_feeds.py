"""feeds and proposed cases: FIRST EPSS scores, ENISA EUVD records, feed import runs (each
file once, by content hash), and the Article 14 cases exploitation signals propose (once per
product and vulnerability)

Revision ID: 0012_h17a
Revises: 0012_h16b
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012_h17a'
down_revision = '0012_h16b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('epss_scores',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('cve', sa.String(length=64), nullable=False),
    sa.Column('epss', sa.Float(), nullable=False),
    sa.Column('percentile', sa.Float(), nullable=False),
    sa.Column('score_date', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('org_id', 'cve', name='uq_epss_scores_org_cve')
    )
    op.create_table('euvd_entries',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('euvd_id', sa.String(length=64), nullable=False),
    sa.Column('cve', sa.String(length=64), nullable=True),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('exploited_since', sa.String(length=32), nullable=True),
    sa.Column('base_score', sa.Float(), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('org_id', 'euvd_id', name='uq_euvd_entries_org_id')
    )
    with op.batch_alter_table('euvd_entries', schema=None) as batch_op:
        batch_op.create_index('ix_euvd_entries_cve', ['org_id', 'cve'], unique=False)

    op.create_table('feed_imports',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=300), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('feed_date', sa.String(length=64), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('imported_by', sa.String(length=320), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('org_id', 'sha256', name='uq_feed_imports_org_sha256')
    )
    with op.batch_alter_table('feed_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feed_imports_org_id'), ['org_id'], unique=False)

    op.create_table('case_proposals',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('product_id', sa.String(length=32), nullable=False),
    sa.Column('vulnerability', sa.String(length=128), nullable=False),
    sa.Column('releases', sa.JSON(), nullable=False),
    sa.Column('signal', sa.String(length=16), nullable=False),
    sa.Column('signal_date', sa.String(length=32), nullable=True),
    sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=320), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['article14_cases.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('product_id', 'vulnerability', name='uq_case_proposals_product_vuln')
    )
    with op.batch_alter_table('case_proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_proposals_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_proposals_product_id'), ['product_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('case_proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_proposals_product_id'))
        batch_op.drop_index(batch_op.f('ix_case_proposals_org_id'))

    op.drop_table('case_proposals')
    with op.batch_alter_table('feed_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_imports_org_id'))

    op.drop_table('feed_imports')
    with op.batch_alter_table('euvd_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_euvd_entries_cve')

    op.drop_table('euvd_entries')
    op.drop_table('epss_scores')
