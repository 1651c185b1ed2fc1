"""Closing the loop: follow_ups, follow_up_notes and surveys.followup_max_score

An answer at or below its survey's follow-up threshold waits in the dashboard's
follow-up inbox; follow_ups holds its assignee, state and who changed them when,
follow_up_notes the team's internal notes. followup_max_score NULL means the
kind's negative band (detractors for NPS), as for every survey made before.

Revision ID: c5e8a2f7d310
Revises: b7c3d1e9f204
Create Date: 2026-12-06 10:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c5e8a2f7d310'
down_revision = 'b7c3d1e9f204'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('followup_max_score', sa.Integer(), nullable=True))
    op.create_table(
        'follow_ups',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('response_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('assignee_id', sa.Integer(), nullable=True),
        sa.Column('assigned_by_id', sa.Integer(), nullable=True),
        sa.Column('assigned_at', sa.DateTime(), nullable=True),
        sa.Column('state_by_id', sa.Integer(), nullable=True),
        sa.Column('state_at', sa.DateTime(), nullable=True),
        sa.Column('first_followed_up_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("state IN ('open', 'contacted', 'resolved')", name=op.f('ck_follow_ups_state_known')),
        sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_follow_ups_response_id_responses'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_follow_ups_assignee_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['assigned_by_id'], ['users.id'], name=op.f('fk_follow_ups_assigned_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['state_by_id'], ['users.id'], name=op.f('fk_follow_ups_state_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_ups')),
        sa.UniqueConstraint('response_id', name=op.f('uq_follow_ups_response_id')),
    )
    op.create_index('ix_follow_ups_assignee_state', 'follow_ups', ['assignee_id', 'state'], unique=False)
    op.create_table(
        'follow_up_notes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('follow_up_id', sa.Integer(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['follow_up_id'], ['follow_ups.id'],
                                name=op.f('fk_follow_up_notes_follow_up_id_follow_ups'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_follow_up_notes_author_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_notes')),
    )
    op.create_index(op.f('ix_follow_up_notes_follow_up_id'), 'follow_up_notes', ['follow_up_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_follow_up_notes_follow_up_id'), table_name='follow_up_notes')
    op.drop_table('follow_up_notes')
    op.drop_index('ix_follow_ups_assignee_state', table_name='follow_ups')
    op.drop_table('follow_ups')
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_column('followup_max_score')
