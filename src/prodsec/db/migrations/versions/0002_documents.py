"""documents: organisation profile, product documentation, generation records

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'org_profiles',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('org_id', sa.String(length=32), nullable=False),
        sa.Column('legal_name', sa.String(length=300), nullable=False),
        sa.Column('trade_name', sa.String(length=300), nullable=False),
        sa.Column('postal_address', sa.Text(), nullable=False),
        sa.Column('contact_email', sa.String(length=320), nullable=False),
        sa.Column('website', sa.String(length=2000), nullable=False),
        sa.Column('security_contact', sa.String(length=2000), nullable=False),
        sa.Column('vdp_url', sa.String(length=2000), nullable=False),
        sa.Column('security_txt_url', sa.String(length=2000), nullable=False),
        sa.Column('csaf_url', sa.String(length=2000), nullable=False),
        sa.Column('encryption_url', sa.String(length=2000), nullable=False),
        sa.Column('preferred_languages', sa.String(length=200), nullable=False),
        sa.Column('csirt_member_state', sa.String(length=2), nullable=False),
        sa.Column('authorised_representative', sa.Text(), nullable=False),
        sa.Column('signatory_name', sa.String(length=200), nullable=False),
        sa.Column('signatory_function', sa.String(length=200), nullable=False),
        sa.Column('place_of_issue', sa.String(length=200), nullable=False),
        sa.Column('ack_days', sa.Integer(), nullable=True),
        sa.Column('status_update_days', sa.Integer(), nullable=True),
        sa.Column('disclosure_days', sa.Integer(), nullable=True),
        sa.Column('safe_harbour', sa.Boolean(), nullable=True),
        sa.Column('pledge_signed_on', sa.Date(), nullable=True),
        sa.Column('updated_at', _tz(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('org_id'),
    )
    op.create_table(
        'product_documentation',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('org_id', sa.String(length=32), nullable=False),
        sa.Column('product_id', sa.String(length=32), nullable=False),
        sa.Column('fields', sa.JSON(), nullable=False),
        sa.Column('updated_at', _tz(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('product_id'),
    )
    with op.batch_alter_table('product_documentation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_documentation_org_id'), ['org_id'],
                              unique=False)
    op.create_table(
        'generated_documents',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('org_id', sa.String(length=32), nullable=False),
        sa.Column('product_id', sa.String(length=32), nullable=True),
        sa.Column('release_label', sa.String(length=100), nullable=True),
        sa.Column('subject', sa.String(length=128), nullable=True),
        sa.Column('kind', sa.String(length=64), nullable=False),
        sa.Column('fmt', sa.String(length=16), nullable=False),
        sa.Column('draft', sa.Boolean(), nullable=False),
        sa.Column('inputs', sa.JSON(), nullable=False),
        sa.Column('inputs_digest', sa.String(length=64), nullable=False),
        sa.Column('kb_version', sa.String(length=32), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('created_by', sa.String(length=320), nullable=False),
        sa.Column('created_at', _tz(), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('generated_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_generated_documents_org_id'), ['org_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_generated_documents_product_id'), ['product_id'],
                              unique=False)


def downgrade() -> None:
    op.drop_table('generated_documents')
    op.drop_table('product_documentation')
    op.drop_table('org_profiles')
