"""Mileage lines name their barème by the year it was published in

Revision ID: 3e5c1a9d7b20
Revises: 95dec6135ee3
Create Date: 2026-12-07 16:20:00.000000

Until now the one barème known was numbered by the income it was published for (2024, published
in 2025). Barèmes are now named by their year of publication, 2024 and 2025 having the same
figures: a trip of 2025 or later was computed with the 2025 barème, one of 2024 with the 2024
barème. Amounts do not change.
"""

from __future__ import annotations

from alembic import op

revision = '3e5c1a9d7b20'
down_revision = '95dec6135ee3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE expense_line SET scale_year = 2025 WHERE scale_year = 2024 AND expense_date >= '2025-01-01'"
    )


def downgrade() -> None:
    op.execute("UPDATE expense_line SET scale_year = 2024 WHERE scale_year = 2025")
