"""Server-side login sessions, so signing out (or an admin) can end a session for good

Sessions were only Flask's signed cookie: a copy taken before sign-out kept
working until LOGIN_SESSION_HOURS ran out. Each sign-in now stores a row whose
random id the cookie carries. Cookies from before this revision carry no such
id and are signed out once.

Revision ID: 3a9f2cc75e9c
Revises: 2bcae5ee70ee
Create Date: 2026-12-06 09:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '3a9f2cc75e9c'
down_revision = '2bcae5ee70ee'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'login_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_login_sessions_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_sessions')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_login_sessions_token_hash')),
    )
    op.create_index(op.f('ix_login_sessions_user_id'), 'login_sessions', ['user_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_login_sessions_user_id'), table_name='login_sessions')
    op.drop_table('login_sessions')
