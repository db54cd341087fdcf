"""What a running job sees: its run id, its arguments, and a way to report progress."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.db.engine import LoopBoundSessions
from portal.jobs.models import JobRun, JobStatus
from portal.settings import Settings


class RunTakenOverError(RuntimeError):
    """This attempt no longer owns its run: another worker took it over."""

    def __init__(self, run_id: uuid.UUID) -> None:
        super().__init__(f"run {run_id} was taken over by another attempt")


class JobFailed(Exception):  # noqa: N818 - named for what the run becomes
    """The work cannot be done, and trying again will not help (an authorisation the source refuses…).

    Raised by a job, it records the run as failed at once, without retrying: ``message`` (a
    msgid, translated where it is shown) is its error, ``counts`` what it did before. A job that
    returned instead would read « Terminé » for work that was never done.
    """

    def __init__(self, message: str, counts: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.counts = dict(counts or {})


class JobContext:
    """Passed as first argument to every job function."""

    def __init__(
        self,
        *,
        run_id: uuid.UUID,
        sessions: LoopBoundSessions,
        created_by_id: uuid.UUID | None,
        settings: Settings,
        attempt: int = 1,
        checkpoint: dict[str, Any] | None = None,
    ) -> None:
        self.run_id = run_id
        self.settings = settings
        self.sessions = sessions
        self.created_by_id = created_by_id
        self.attempt = attempt
        self._counts: dict[str, Any] = {}
        self._checkpoint = checkpoint

    def session(self) -> AsyncSession:
        """A new database session for the job's own work (commit it yourself).

        Keep write transactions short and commit before ``progress``: on SQLite a write
        transaction holds the database's only write lock.
        """
        return self.sessions()

    def reader(self) -> AsyncSession:
        """A session for reading only: it never blocks progress reports or other writers."""
        return self.sessions(read_only=True)

    async def progress(self, done: int, total: int | None = None, *, step: str | None = None) -> None:
        """Record progress in its own short transaction, so the person watching sees it at once."""
        values: dict[str, Any] = {"progress_done": done}
        if total is not None:
            values["progress_total"] = total
        if step is not None:
            values["step"] = step
        await self._update(values)

    async def count(self, **counts: Any) -> None:
        """Record summary counts shown with the run (created, skipped, …)."""
        self._counts.update(counts)
        await self._update({"counts": dict(self._counts)})

    @property
    def checkpoint(self) -> dict[str, Any] | None:
        """What earlier attempts of this run recorded with ``save_checkpoint`` (None on a first attempt)."""
        return self._checkpoint

    async def save_checkpoint(self, session: AsyncSession, state: dict[str, Any]) -> None:
        """Record ``state`` (JSON) in ``session``'s transaction, so it commits with the work it describes.

        An attempt that resumes the run after a crash or a failure then starts from exactly
        what earlier attempts committed: their counts included, nothing counted twice. Raises
        ``RunTakenOverError`` when this attempt no longer owns the run (another worker took it
        over): the caller's transaction must then roll back.
        """
        result = await session.execute(
            update(JobRun)
            .where(JobRun.id == self.run_id, JobRun.attempts == self.attempt, JobRun.status == JobStatus.RUNNING)
            .values(checkpoint=state)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise RunTakenOverError(self.run_id)
        self._checkpoint = state

    @property
    def counts(self) -> dict[str, Any]:
        return dict(self._counts)

    async def _update(self, values: dict[str, Any]) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(update(JobRun).where(JobRun.id == self.run_id).values(**values))
