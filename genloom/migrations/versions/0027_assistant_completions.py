"""assistant: sessions have a kind (chat | completions); one completions session per user and article

Revision ID: 0027_assistant_completions
Revises: 0026_assistant
Create Date: 2026-12-03 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_assistant_completions"
down_revision = "0026_assistant"
branch_labels = None
depends_on = None

ONLY_COMPLETIONS = sa.text("kind = 'completions'")


def upgrade() -> None:
    with op.batch_alter_table("assistant_sessions") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="chat"))
    op.create_index("uq_assistant_sessions_completions", "assistant_sessions", ["owner_id", "article_id"],
                    unique=True, sqlite_where=ONLY_COMPLETIONS, postgresql_where=ONLY_COMPLETIONS)


def downgrade() -> None:
    op.drop_index("uq_assistant_sessions_completions", table_name="assistant_sessions")
    with op.batch_alter_table("assistant_sessions") as batch:
        batch.drop_column("kind")
