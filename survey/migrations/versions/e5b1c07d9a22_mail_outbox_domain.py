"""Outbox messages record their recipient's domain and when they were last handed over; claims read in order

The claim query takes the due messages ORDER BY next_attempt_at, id: with id
in ix_outbox_messages_due it reads them in that order from the index instead
of sorting every queued message of a million-contact campaign per batch
(PostgreSQL; SQLite had the rowid there already).

The per-domain rate limit (MAIL_DOMAIN_RATES) counts, for one receiving
domain, the messages handed to the server in the last minute; an index on
(domain, attempted_at) makes that a short range scan. Existing rows get their
domain from the recipient address; attempted_at stays empty for them (they
are older than any window).

Revision ID: e5b1c07d9a22
Revises: 5d0b7e3c9a14
Create Date: 2026-12-06 09:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'e5b1c07d9a22'
down_revision = '5d0b7e3c9a14'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_messages') as batch_op:
        batch_op.add_column(sa.Column('domain', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('attempted_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_outbox_messages_domain_attempted', ['domain', 'attempted_at'], unique=False)
        batch_op.drop_index('ix_outbox_messages_due')
        batch_op.create_index('ix_outbox_messages_due', ['state', 'next_attempt_at', 'id'], unique=False)
    outbox = sa.table('outbox_messages', sa.column('id', sa.Integer), sa.column('recipient', sa.String),
                      sa.column('domain', sa.String))
    connection = op.get_bind()
    rows = connection.execute(sa.select(outbox.c.id, outbox.c.recipient).where(outbox.c.recipient.is_not(None))).all()
    for start in range(0, len(rows), 500):
        connection.execute(
            outbox.update().where(outbox.c.id == sa.bindparam('message_id')).values(domain=sa.bindparam('new_domain')),
            [{'message_id': i, 'new_domain': r.rpartition('@')[2].lower() or None} for i, r in rows[start:start + 500]],
        )


def downgrade():
    with op.batch_alter_table('outbox_messages') as batch_op:
        batch_op.drop_index('ix_outbox_messages_due')
        batch_op.create_index('ix_outbox_messages_due', ['state', 'next_attempt_at'], unique=False)
        batch_op.drop_index('ix_outbox_messages_domain_attempted')
        batch_op.drop_column('attempted_at')
        batch_op.drop_column('domain')
