"""CSAF publication: documents start as drafts; interim and final revisions are kept as published

``csaf_documents.status`` is the latest revision's tracking status. Documents authored before
this migration were written with ``final`` status, so existing rows get ``final``.
``csaf_revisions`` holds each published revision unchanged.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('csaf_documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), server_default='final',
                                      nullable=False))
    op.create_table('csaf_revisions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('document_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_by', sa.String(length=320), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['csaf_documents.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('document_id', 'version')
    )
    with op.batch_alter_table('csaf_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_csaf_revisions_document_id'), ['document_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_csaf_revisions_org_id'), ['org_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('csaf_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_csaf_revisions_org_id'))
        batch_op.drop_index(batch_op.f('ix_csaf_revisions_document_id'))
    op.drop_table('csaf_revisions')
    with op.batch_alter_table('csaf_documents', schema=None) as batch_op:
        batch_op.drop_column('status')
