"""Codeframe: pain points say where they come from and carry their trend; a survey's own named pain points, their examples, analysts' edits, dismissed proposals

Revision ID: b7c3d9e1f022
Revises: b7d2e4f61c30
Create Date: 2026-12-06 09:55:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7c3d9e1f022'
down_revision = 'b7d2e4f61c30'
branch_labels = None
depends_on = None

THEMES = ('service', 'care', 'other')


def upgrade():
    with op.batch_alter_table('pain_points') as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=10), server_default='discovered', nullable=False))
        batch_op.add_column(sa.Column('trend', sa.JSON(), nullable=True))
        batch_op.create_check_constraint(op.f('ck_pain_points_source_known'),
                                         "source IN ('discovered', 'codeframe', 'proposal')")
    op.create_table(
        'codeframe_points',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('theme', sa.String(length=8), nullable=False),
        sa.Column('keywords', sa.JSON(), nullable=False),
        sa.Column('hidden', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint(f"theme IN {THEMES}", name=op.f('ck_codeframe_points_theme_known')),
        sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_codeframe_points_survey_id_surveys'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_codeframe_points')),
        sa.UniqueConstraint('survey_id', 'name', name='uq_codeframe_points_survey_name'),
    )
    op.create_index(op.f('ix_codeframe_points_survey_id'), 'codeframe_points', ['survey_id'], unique=False)
    op.create_table(
        'codeframe_examples',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('point_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=8), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('text_key', sa.String(length=64), nullable=False),
        sa.Column('response_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("role IN ('example', 'excluded')", name=op.f('ck_codeframe_examples_role_known')),
        sa.ForeignKeyConstraint(['point_id'], ['codeframe_points.id'],
                                name=op.f('fk_codeframe_examples_point_id_codeframe_points'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['response_id'], ['responses.id'],
                                name=op.f('fk_codeframe_examples_response_id_responses'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_codeframe_examples_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_codeframe_examples')),
        sa.UniqueConstraint('point_id', 'role', 'text_key', name='uq_codeframe_examples_point_role_text'),
    )
    op.create_index(op.f('ix_codeframe_examples_point_id'), 'codeframe_examples', ['point_id'], unique=False)
    op.create_index(op.f('ix_codeframe_examples_response_id'), 'codeframe_examples', ['response_id'], unique=False)
    op.create_table(
        'codeframe_edits',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=254), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_codeframe_edits_survey_id_surveys'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_codeframe_edits_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_codeframe_edits')),
    )
    op.create_index(op.f('ix_codeframe_edits_survey_id'), 'codeframe_edits', ['survey_id'], unique=False)
    op.create_table(
        'codeframe_dismissed',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('label', sa.String(length=200), nullable=False),
        sa.Column('terms', sa.JSON(), nullable=False),
        sa.Column('response_ids', sa.JSON(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'],
                                name=op.f('fk_codeframe_dismissed_survey_id_surveys'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_codeframe_dismissed_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_codeframe_dismissed')),
        sa.UniqueConstraint('survey_id', 'label', name='uq_codeframe_dismissed_survey_label'),
    )
    op.create_index(op.f('ix_codeframe_dismissed_survey_id'), 'codeframe_dismissed', ['survey_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_codeframe_dismissed_survey_id'), table_name='codeframe_dismissed')
    op.drop_table('codeframe_dismissed')
    op.drop_index(op.f('ix_codeframe_edits_survey_id'), table_name='codeframe_edits')
    op.drop_table('codeframe_edits')
    op.drop_index(op.f('ix_codeframe_examples_response_id'), table_name='codeframe_examples')
    op.drop_index(op.f('ix_codeframe_examples_point_id'), table_name='codeframe_examples')
    op.drop_table('codeframe_examples')
    op.drop_index(op.f('ix_codeframe_points_survey_id'), table_name='codeframe_points')
    op.drop_table('codeframe_points')
    with op.batch_alter_table('pain_points') as batch_op:
        batch_op.drop_constraint(op.f('ck_pain_points_source_known'), type_='check')
        batch_op.drop_column('trend')
        batch_op.drop_column('source')
