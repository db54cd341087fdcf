"""Recorded job runs and the transactional outbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db.base import Base, JsonB


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in {JobStatus.SUCCEEDED, JobStatus.FAILED}


class JobRun(Base):
    """One requested piece of background work, as the person who asked sees it."""

    __tablename__ = "job_run"
    __table_args__ = (Index("ix_job_run_created_by_created_at", "created_by_id", "created_at"),)

    actor_name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=JobStatus.QUEUED,
        index=True,
    )
    arguments: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    # The dossier the run works on, if one: the run is hidden from whoever may not see that dossier.
    dossier_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("dossier.id", ondelete="SET NULL"), default=None)
    # The person the run is about (an invitation's recipient…), if one: the run is hidden from whoever
    # may not see that person (``portal.firm.policy``). No foreign key: the run outlives nothing it names.
    person_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer, default=None)
    step: Mapped[str | None] = mapped_column(String(200), default=None)
    counts: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    # Where a resumable job stands, written in the transactions of its work (``JobContext.save_checkpoint``).
    checkpoint: Mapped[dict[str, Any] | None] = mapped_column(JsonB, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return None
        return min(100, round(100 * self.progress_done / self.progress_total))


class OutboxMessage(Base):
    """A message to hand to the broker, written in the same transaction as the change that asks for it.

    ``dedupe_key`` is unique: a scheduled slot or any other once-only request can be
    written by several processes at once and still exist once.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_pending", "sent_at", "available_at"),)

    job_run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job_run.id", ondelete="CASCADE"), index=True)
    actor_name: Mapped[str] = mapped_column(String(120))
    queue_name: Mapped[str] = mapped_column(String(80))
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    available_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)

    job_run: Mapped[JobRun] = relationship(lazy="joined")
