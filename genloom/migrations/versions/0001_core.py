"""core: jobs, job events, workers, assets

Revision ID: 0001_core
Revises: (none)
Create Date: 2026-11-23 11:53:45.727157
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import genloom.core.db

revision = '0001_core'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('assets',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('owner_id', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('mime', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('etag', sa.String(length=100), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('derived_from', sa.String(length=36), nullable=True),
    sa.Column('job_id', sa.String(length=36), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', genloom.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['derived_from'], ['assets.id'], name=op.f('fk_assets_derived_from_assets'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assets')),
    sa.UniqueConstraint('key', name=op.f('uq_assets_key'))
    )
    with op.batch_alter_table('assets', schema=None) as batch_op:
        batch_op.create_index('ix_assets_job', ['job_id'], unique=False)
        batch_op.create_index('ix_assets_owner', ['owner_id', 'created_at'], unique=False)

    op.create_table('job_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.String(length=36), nullable=False),
    sa.Column('owner_id', sa.String(length=80), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', genloom.core.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_events')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('job_events', schema=None) as batch_op:
        batch_op.create_index('ix_job_events_created', ['created_at'], unique=False)
        batch_op.create_index('ix_job_events_job', ['job_id', 'id'], unique=False)
        batch_op.create_index('ix_job_events_owner', ['owner_id', 'id'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('owner_id', sa.String(length=80), nullable=False),
    sa.Column('parent_id', sa.String(length=36), nullable=True),
    sa.Column('is_batch', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('phase', sa.String(length=64), nullable=True),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('run_at', genloom.core.db.UTCDateTime(), nullable=False),
    sa.Column('lease_until', genloom.core.db.UTCDateTime(), nullable=True),
    sa.Column('worker_id', sa.String(length=64), nullable=True),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('surface', sa.String(length=32), nullable=True),
    sa.Column('input', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('error', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', genloom.core.db.UTCDateTime(), nullable=False),
    sa.Column('started_at', genloom.core.db.UTCDateTime(), nullable=True),
    sa.Column('finished_at', genloom.core.db.UTCDateTime(), nullable=True),
    sa.Column('updated_at', genloom.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['jobs.id'], name=op.f('fk_jobs_parent_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_claim', ['status', 'is_batch', 'priority', 'run_at', 'id'], unique=False)
        batch_op.create_index('ix_jobs_lease', ['status', 'lease_until'], unique=False)
        batch_op.create_index('ix_jobs_owner_created', ['owner_id', 'id'], unique=False)
        batch_op.create_index('ix_jobs_parent', ['parent_id'], unique=False)
        batch_op.create_index('ix_jobs_status_finished', ['status', 'finished_at'], unique=False)
        batch_op.create_index('uq_jobs_owner_idempotency', ['owner_id', 'idempotency_key'], unique=True, sqlite_where=sa.text('idempotency_key IS NOT NULL'), postgresql_where=sa.text('idempotency_key IS NOT NULL'))

    op.create_table('workers',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('concurrency', sa.Integer(), nullable=False),
    sa.Column('kinds', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('started_at', genloom.core.db.UTCDateTime(), nullable=False),
    sa.Column('seen_at', genloom.core.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workers'))
    )



def downgrade() -> None:

    op.drop_table('workers')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('uq_jobs_owner_idempotency', sqlite_where=sa.text('idempotency_key IS NOT NULL'), postgresql_where=sa.text('idempotency_key IS NOT NULL'))
        batch_op.drop_index('ix_jobs_status_finished')
        batch_op.drop_index('ix_jobs_parent')
        batch_op.drop_index('ix_jobs_owner_created')
        batch_op.drop_index('ix_jobs_lease')
        batch_op.drop_index('ix_jobs_claim')

    op.drop_table('jobs')
    with op.batch_alter_table('job_events', schema=None) as batch_op:
        batch_op.drop_index('ix_job_events_owner')
        batch_op.drop_index('ix_job_events_job')
        batch_op.drop_index('ix_job_events_created')

    op.drop_table('job_events')
    with op.batch_alter_table('assets', schema=None) as batch_op:
        batch_op.drop_index('ix_assets_owner')
        batch_op.drop_index('ix_assets_job')

    op.drop_table('assets')

