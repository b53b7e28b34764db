"""component licence kinds and external references: each licence's kind (SPDX id, name,
expression) and acknowledgement, and the component's external references (vcs, website…), so the
merged CycloneDX export of a release writes them back as they came in. Rows imported before keep
an empty list of each.

Revision ID: 0019_h18e
Revises: 0018_h18d
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019_h18e'
down_revision = '0018_h18d'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('components') as batch:
        batch.add_column(sa.Column('licence_choices', sa.JSON(), nullable=False,
                                   server_default='[]'))
        batch.add_column(sa.Column('external_references', sa.JSON(), nullable=False,
                                   server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('components') as batch:
        batch.drop_column('external_references')
        batch.drop_column('licence_choices')
