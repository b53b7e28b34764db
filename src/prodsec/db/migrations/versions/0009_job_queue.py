"""The job queue: procrastinate's schema (PostgreSQL) and ``job_reports`` (progress and errors)

On PostgreSQL this creates the tables, types, functions and triggers of the pinned procrastinate
version (its ``sql/schema.sql``, read from the installed package: the version is pinned in
pyproject.toml so the schema and the library agree). On SQLite there is no queue: jobs run
in-process after the change that caused them commits (see prodsec.jobs), so only
``job_reports`` is created there, to keep one model for both databases.

``job_reports`` holds what procrastinate does not keep: a job's progress while it runs and the
error of its last failed attempt. One expression index lets the per-organisation job list find
an organisation's jobs without reading every job's arguments.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'job_reports',
        sa.Column('job_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('org_id', sa.String(length=32), nullable=True),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=True),
        sa.Column('note', sa.String(length=500), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('job_id'),
    )
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    from importlib.resources import files

    schema = files('procrastinate.sql').joinpath('schema.sql').read_text(encoding='utf-8')
    # Straight to psycopg with no parameters (SQLAlchemy would pass an empty set and psycopg
    # would then read the `%` in its plpgsql messages as placeholders); same transaction.
    raw: Any = bind.connection.driver_connection
    raw.execute(schema)
    bind.exec_driver_sql("CREATE INDEX ix_procrastinate_jobs_org ON procrastinate_jobs "
                         "((args->>'org_id'), id DESC)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        bind.exec_driver_sql("""
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT tablename FROM pg_tables
           WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate\\_%' LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', r.tablename);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%' LOOP
    EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', r.sig);
  END LOOP;
  FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\\_%'
             AND t.typtype IN ('e', 'c') LOOP
    EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', r.typname);
  END LOOP;
END $$;
""")
    op.drop_table('job_reports')
