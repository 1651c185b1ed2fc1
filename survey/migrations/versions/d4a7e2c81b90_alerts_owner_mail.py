"""Owner e-mails: low-score alerts and the weekly digest (mail_preferences, alert_batches, alerted_responses,
owner_mails), and the outbox's two new kinds of message

mail_preferences holds each person's opt-outs (no row: both on). alerted_responses
marks each low score an alert batch covered, so the worker finds new ones without
any work on the answer path; owner_mails records each e-mail queued to an owner,
unique per alert batch and person and per survey, week and person.

Revision ID: d4a7e2c81b90
Revises: d4a7c1e08b52
Create Date: 2026-12-06 12:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd4a7e2c81b90'
down_revision = 'd4a7c1e08b52'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('invitation', 'reminder')"
NEW_KINDS = "kind IN ('invitation', 'reminder', 'alert', 'digest')"


def upgrade():
    op.create_table(
        'mail_preferences',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('low_score_alerts', sa.Boolean(), nullable=False),
        sa.Column('weekly_digest', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mail_preferences_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_mail_preferences')),
    )
    op.create_table(
        'alert_batches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('answers', sa.Integer(), nullable=False),
        sa.Column('recipients', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_alert_batches_survey_id_surveys'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_batches')),
    )
    op.create_index('ix_alert_batches_survey_created', 'alert_batches', ['survey_id', 'created_at'], unique=False)
    op.create_table(
        'alerted_responses',
        sa.Column('response_id', sa.Integer(), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['batch_id'], ['alert_batches.id'],
                                name=op.f('fk_alerted_responses_batch_id_alert_batches'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['response_id'], ['responses.id'],
                                name=op.f('fk_alerted_responses_response_id_responses'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('response_id', name=op.f('pk_alerted_responses')),
    )
    op.create_index(op.f('ix_alerted_responses_batch_id'), 'alerted_responses', ['batch_id'], unique=False)
    op.create_table(
        'owner_mails',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=True),
        sa.Column('week', sa.String(length=8), nullable=True),
        sa.Column('outbox_message_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('alert', 'digest')", name=op.f('ck_owner_mails_kind_known')),
        sa.CheckConstraint("(kind = 'alert') = (batch_id IS NOT NULL)", name=op.f('ck_owner_mails_alert_has_batch')),
        sa.CheckConstraint("(kind = 'digest') = (week IS NOT NULL)", name=op.f('ck_owner_mails_digest_has_week')),
        sa.ForeignKeyConstraint(['batch_id'], ['alert_batches.id'], name=op.f('fk_owner_mails_batch_id_alert_batches'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['outbox_message_id'], ['outbox_messages.id'],
                                name=op.f('fk_owner_mails_outbox_message_id_outbox_messages'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_owner_mails_survey_id_surveys'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_owner_mails_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_owner_mails')),
        sa.UniqueConstraint('batch_id', 'user_id', name='uq_owner_mails_batch_user'),
        sa.UniqueConstraint('survey_id', 'week', 'user_id', name='uq_owner_mails_survey_week_user'),
    )
    op.create_index(op.f('ix_owner_mails_user_id'), 'owner_mails', ['user_id'], unique=False)
    with op.batch_alter_table('outbox_messages') as batch_op:
        batch_op.drop_constraint(op.f('ck_outbox_messages_kind_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_messages_kind_known'), NEW_KINDS)


def downgrade():
    op.execute("DELETE FROM outbox_messages WHERE kind IN ('alert', 'digest')")
    with op.batch_alter_table('outbox_messages') as batch_op:
        batch_op.drop_constraint(op.f('ck_outbox_messages_kind_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_messages_kind_known'), OLD_KINDS)
    op.drop_index(op.f('ix_owner_mails_user_id'), table_name='owner_mails')
    op.drop_table('owner_mails')
    op.drop_index(op.f('ix_alerted_responses_batch_id'), table_name='alerted_responses')
    op.drop_table('alerted_responses')
    op.drop_index('ix_alert_batches_survey_created', table_name='alert_batches')
    op.drop_table('alert_batches')
    op.drop_table('mail_preferences')
