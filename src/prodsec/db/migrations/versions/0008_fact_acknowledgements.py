"""fact acknowledgements: confirmations of unverified knowledge-base facts for issued documents

An issued declaration that rests on a fact the knowledge base marks ``verified: false`` is
refused until someone in the organisation confirms that fact (issue 14); each confirmation is
one row here (and an audit event).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fact_acknowledgements',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('document_kind', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('org_id', 'key', name='uq_fact_ack_org_key')
    )
    with op.batch_alter_table('fact_acknowledgements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fact_acknowledgements_org_id'), ['org_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('fact_acknowledgements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fact_acknowledgements_org_id'))
    op.drop_table('fact_acknowledgements')
