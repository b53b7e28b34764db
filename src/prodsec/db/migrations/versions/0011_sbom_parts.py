"""sbom parts: a release's SBOM is assembled from several (firmware, app, cloud service, HBOM)

Each existing SBOM becomes its release's one part, named "main", keeping its file name, hash,
format and quality report (the part's id is the SBOM's id, so nothing needs generating);
components and dependency edges point at the part they came from. ``part_id`` carries no
foreign key: on SQLite that would rebuild ``components``, and dropping the old table would
cascade-delete the findings that point at it.

Revision ID: 0011_h18_sbom_parts
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011_h18_sbom_parts'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sbom_parts',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('sbom_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('format', sa.String(length=32), nullable=False),
    sa.Column('spec_version', sa.String(length=16), nullable=False),
    sa.Column('document_name', sa.String(length=300), nullable=False),
    sa.Column('filename', sa.String(length=300), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('quality', sa.JSON(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sbom_id'], ['sboms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sbom_id', 'name')
    )
    with op.batch_alter_table('sbom_parts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sbom_parts_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sbom_parts_sbom_id'), ['sbom_id'], unique=False)
    # ADD COLUMN and CREATE INDEX only: no table is rebuilt (see the module docstring).
    for table in ('components', 'dependency_edges'):
        op.add_column(table, sa.Column('part_id', sa.String(length=32), nullable=True))
        op.create_index(op.f(f'ix_{table}_part_id'), table, ['part_id'], unique=False)
    op.execute("INSERT INTO sbom_parts (id, org_id, sbom_id, name, kind, format, spec_version, "
               "document_name, filename, sha256, quality, imported_at) "
               "SELECT id, org_id, id, 'main', 'application', format, spec_version, name, "
               "filename, sha256, quality, imported_at FROM sboms")
    op.execute("UPDATE components SET part_id = sbom_id")
    op.execute("UPDATE dependency_edges SET part_id = sbom_id")


def downgrade() -> None:
    for table in ('dependency_edges', 'components'):
        op.drop_index(op.f(f'ix_{table}_part_id'), table_name=table)
        op.drop_column(table, 'part_id')  # ALTER TABLE DROP COLUMN (SQLite >= 3.35)
    op.drop_table('sbom_parts')
