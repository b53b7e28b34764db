"""notifications: an outbox, subscriptions, deliveries and their log; expected use time

The outbox (``notification_events``) is written in the transaction of the change that causes an
event, with ``(org_id, dedupe_key)`` unique: exactly one event however often it is found again.
Each event becomes one delivery per matching subscription, retried with backoff; every attempt
is logged. ``releases.expected_use_months`` records the expected use time that justifies a
support period shorter than five years (CRA Art. 13(8)); ADD COLUMN only, no table rebuilt.

Revision ID: 0012_h17b
Revises: 0012_h17a
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012_h17b'
down_revision = '0012_h17a'
branch_labels = None
depends_on = None

_ORG = ('org_id', sa.String(length=32))


def _org_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ondelete='CASCADE')


def upgrade() -> None:
    op.create_table('notification_subscriptions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column(*_ORG, nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=2000), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=False),
    sa.Column('kinds', sa.JSON(), nullable=False),
    sa.Column('stage_due_hours', sa.Integer(), nullable=False),
    sa.Column('support_days', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    _org_fk(),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_table('notification_events',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column(*_ORG, nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    _org_fk(),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('org_id', 'dedupe_key'),
    )
    op.create_table('notification_deliveries',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column(*_ORG, nullable=False),
    sa.Column('event_id', sa.String(length=32), nullable=False),
    sa.Column('subscription_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    _org_fk(),
    sa.ForeignKeyConstraint(['event_id'], ['notification_events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['notification_subscriptions.id'],
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'subscription_id'),
    )
    op.create_table('notification_attempts',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column(*_ORG, nullable=False),
    sa.Column('delivery_id', sa.String(length=32), nullable=False),
    sa.Column('subscription_id', sa.String(length=32), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=64), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    _org_fk(),
    sa.ForeignKeyConstraint(['delivery_id'], ['notification_deliveries.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['notification_subscriptions.id'],
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    )
    for table, columns in (('notification_subscriptions', ['org_id']),
                           ('notification_events', ['org_id']),
                           ('notification_deliveries', ['org_id', 'event_id', 'subscription_id']),
                           ('notification_attempts', ['org_id', 'delivery_id',
                                                      'subscription_id'])):
        for column in columns:
            op.create_index(op.f(f'ix_{table}_{column}'), table, [column], unique=False)
    op.create_index('ix_notification_deliveries_due', 'notification_deliveries',
                    ['status', 'next_attempt_at'], unique=False)
    op.add_column('releases', sa.Column('expected_use_months', sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column('releases', 'expected_use_months')  # ALTER TABLE DROP COLUMN (SQLite >= 3.35)
    for table in ('notification_attempts', 'notification_deliveries', 'notification_events',
                  'notification_subscriptions'):
        op.drop_table(table)
