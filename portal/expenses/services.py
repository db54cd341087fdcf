"""The rules of expense notes: filing, lines, and the status flow.

brouillon → soumise → approuvée or refusée (with a comment) → payée; a refused note goes
back to draft at its author's request. Every status change is one conditional
``UPDATE … WHERE status = <expected>``: of two approvers clicking at once, one changes
the row and the other finds nothing to change and is told so. Lines change only while
the note is a draft, and only by its author; adding or removing one first "touches" the
note with the same kind of conditional UPDATE, which also holds the row against a
concurrent submission until the change commits. Nobody decides on their own note.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from litestar.exceptions import NotFoundException
from sqlalchemy import CursorResult, Select, case, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from portal.accounts.models import User
from portal.audit.recorder import record
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.auth.roles import DossierRole
from portal.clients.models import Dossier
from portal.db.paging import FIRST_PAGE, Page, Paging, Sort, paginate
from portal.expenses import mileage
from portal.expenses.accounting import payable_account
from portal.expenses.categories import ExpenseCategory
from portal.expenses.models import ExpenseLine, ExpenseNote, ExpenseReceipt, ExpenseTransition, NoteStatus
from portal.expenses.receipts import CheckedReceipt, ReceiptStore
from portal.expenses.schemas import ExpenseValues, MileageValues
from portal.i18n import N_
from portal.notifications.kinds import Kind
from portal.notifications.recipients import holders
from portal.notifications.services import Event, notify
from portal.settings import FIRM_TIMEZONE

SEES = Permission.EXPENSES_FILE
"""Restricting notes with any permission but ``EXPENSES_APPROVE`` keeps those the person sees (see the policy)."""

NOT_YOURS = N_("Seul l'auteur de la note peut la modifier ou la soumettre.")
NOT_DRAFT = N_("Cette note n'est plus un brouillon : ses lignes ne peuvent plus être modifiées.")
NO_LINES = N_("Ajoutez au moins une ligne avant de soumettre la note.")
OWN_NOTE = N_("Vous ne pouvez pas valider, refuser ni payer votre propre note de frais.")
NOT_APPROVER = N_("Vous ne validez pas les notes de frais de ce dossier.")
CHANGED = N_("Cette note a changé entre-temps (une autre personne l'a peut-être déjà traitée) : rechargez la page.")
NO_COMMENT = N_("Indiquez le motif du refus : il est obligatoire.")
NOT_FILING = N_("Choisissez l'un des dossiers du cabinet où vous êtes Employé.")


NOTE_SORTS = ("numero", "titre", "employe", "dossier", "statut", "date", "montant")
"""The columns notes lists sort by (``tri``); ``date`` is when the note was created (Mes notes) or submitted
(À valider)."""
MY_NOTES_ORDER = Sort("date", descending=True)
TO_APPROVE_ORDER = Sort("date")


def _note_sort_columns(key: str, date: Any) -> tuple[Any, ...]:
    """The columns (or SQL expressions) a notes list sorts by; the note's total is summed from its lines in SQL."""
    if key == "montant":
        return (
            select(func.coalesce(func.sum(ExpenseLine.amount_ttc), 0))
            .where(ExpenseLine.note_id == ExpenseNote.id)
            .scalar_subquery(),
        )
    if key == "numero":
        return ExpenseNote.year, ExpenseNote.sequence
    columns = {
        "titre": func.lower(ExpenseNote.title),
        "employe": select(func.lower(User.name)).where(User.id == ExpenseNote.author_id).scalar_subquery(),
        "dossier": select(Dossier.sort_name).where(Dossier.id == ExpenseNote.dossier_id).scalar_subquery(),
        "statut": case({status: rank for rank, status in enumerate(NoteStatus)}, value=ExpenseNote.status),
    }  # fmt: skip
    return (columns.get(key, date),)


class ExpenseError(ValueError):
    """A rule refused the change; ``message`` is a French msgid, ``status`` the HTTP answer."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def today() -> dt.date:
    """The firm's day (dates of expenses and of approvals are French dates)."""
    return dt.datetime.now(FIRM_TIMEZONE).date()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class NoteActions:
    """What the person may do with a note now (the page shows these buttons; the service checks again)."""

    edit: bool
    submit: bool
    reopen: bool
    decide: bool
    pay: bool
    own: bool


def allowance_of(line: ExpenseLine) -> mileage.TripAllowance | None:
    """How a mileage line's amount was computed, from what it stored (None for other lines)."""
    if not line.is_mileage or line.horsepower is None or line.distance_km is None or line.scale_year is None:
        return None
    return mileage.trip_allowance(
        mileage.scale_for(line.scale_year),
        line.horsepower,
        prior_km=line.prior_km or 0,
        km=line.distance_km,
        electric=line.electric,
        trip_year=line.expense_date.year,
    )


class ExpenseNoteRepository(SQLAlchemyAsyncRepository[ExpenseNote]):
    model_type = ExpenseNote


class ExpenseNoteService(SQLAlchemyAsyncRepositoryService[ExpenseNote, ExpenseNoteRepository]):
    """Expense notes as a person may see and change them."""

    repository_type = ExpenseNoteRepository

    @property
    def session(self) -> Any:
        return self.repository.session

    # --- reading ----------------------------------------------------------------------

    def _seen(self, principal: Principal, permission: Permission = SEES) -> Any:
        return restrict(select(ExpenseNote), principal, permission, ExpenseNote)

    async def filing_dossiers(self, principal: Principal) -> list[Dossier]:
        """The firm's own dossiers where the person is Employé (and which they may see)."""
        dossier_ids = principal.dossiers_as(DossierRole.EMPLOYEE)
        if not dossier_ids:
            return []
        statement = restrict(
            select(Dossier).where(Dossier.id.in_(dossier_ids), Dossier.is_firm_dossier.is_(True)),
            principal,
            Permission.DOSSIERS_READ,
            Dossier,
        ).order_by(Dossier.sort_name)
        return list((await self.session.execute(statement)).scalars())

    async def my_notes(
        self, principal: Principal, paging: Paging = FIRST_PAGE, sort: Sort = MY_NOTES_ORDER
    ) -> Page[ExpenseNote]:
        """The person's own notes, one sorted page (``NOTE_SORTS``; the latest first by default)."""
        statement = self._seen(principal).where(ExpenseNote.author_id == principal.user_id)
        columns = _note_sort_columns(sort.key, ExpenseNote.created_at)
        statement = statement.order_by(*(sort.order(column) for column in columns), ExpenseNote.id)
        return await paginate(self.session, statement, paging)

    async def to_approve(
        self, principal: Principal, paging: Paging = FIRST_PAGE, sort: Sort = TO_APPROVE_ORDER
    ) -> Page[ExpenseNote]:
        """Submitted notes the person may approve, their own left out (the longest waiting first by default)."""
        columns = _note_sort_columns(sort.key, ExpenseNote.submitted_at)
        statement = _waiting_for(principal).order_by(*(sort.order(column) for column in columns), ExpenseNote.id)
        return await paginate(self.session, statement, paging)

    async def count_to_approve(self, principal: Principal) -> int:
        """How many notes wait for the person's approval (the count of À valider and of the menu)."""
        return await count_to_approve(self.session, principal)

    async def get_visible(self, principal: Principal, note_id: uuid.UUID, *, history: bool = False) -> ExpenseNote:
        """The note, or 404 when there is none or the person may not see it."""
        statement = self._seen(principal).where(ExpenseNote.id == note_id)
        if history:
            statement = statement.options(selectinload(ExpenseNote.transitions))
        note: ExpenseNote | None = (await self.session.execute(statement)).scalar_one_or_none()
        if note is None:
            raise NotFoundException
        return note

    async def get_receipt(self, principal: Principal, receipt_id: uuid.UUID) -> ExpenseReceipt:
        """A receipt of a note the person sees, or 404."""
        statement = restrict(
            select(ExpenseReceipt)
            .join(ExpenseLine, ExpenseLine.id == ExpenseReceipt.line_id)
            .join(ExpenseNote, ExpenseNote.id == ExpenseLine.note_id)
            .where(ExpenseReceipt.id == receipt_id),
            principal,
            SEES,
            ExpenseNote,
        )
        receipt: ExpenseReceipt | None = (await self.session.execute(statement)).scalar_one_or_none()
        if receipt is None:
            raise NotFoundException
        return receipt

    def actions(self, principal: Principal, note: ExpenseNote) -> NoteActions:
        own = note.author_id == principal.user_id
        approver = not own and principal.can(Permission.EXPENSES_APPROVE, note.dossier_id)
        return NoteActions(
            edit=own and note.status is NoteStatus.DRAFT,
            submit=own and note.status is NoteStatus.DRAFT and bool(note.lines),
            reopen=own and note.status is NoteStatus.REFUSED,
            decide=approver and note.status is NoteStatus.SUBMITTED,
            pay=approver and note.status is NoteStatus.APPROVED,
            own=own,
        )

    # --- filing -----------------------------------------------------------------------

    async def create_note(self, principal: Principal, dossier_id: uuid.UUID | None, title: str) -> ExpenseNote:
        """A new draft on one of the person's filing dossiers, numbered NDF-<year>-<next>."""
        allowed = {dossier.id for dossier in await self.filing_dossiers(principal)}
        if dossier_id not in allowed:
            raise ExpenseError(NOT_FILING)
        year = today().year
        for _attempt in range(5):
            last = await self.session.scalar(select(func.max(ExpenseNote.sequence)).where(ExpenseNote.year == year))
            note = ExpenseNote(
                dossier_id=dossier_id, author_id=principal.user_id, year=year, sequence=(last or 0) + 1, title=title
            )
            try:
                async with self.session.begin_nested():
                    self.session.add(note)
                    await self.session.flush()
            except IntegrityError:
                continue  # another note took this number a moment ago: take the next one
            await self.session.refresh(note)
            return note
        raise ExpenseError(CHANGED, 409)  # pragma: no cover - five collisions in a row

    def check_editable(self, principal: Principal, note: ExpenseNote) -> None:
        """Refuse early (before reading a form) what ``_hold_draft`` would refuse: not theirs, not a draft."""
        if note.author_id != principal.user_id:
            raise ExpenseError(NOT_YOURS, 403)
        if note.status is not NoteStatus.DRAFT:
            raise ExpenseError(NOT_DRAFT, 409)

    async def _hold_draft(self, principal: Principal, note: ExpenseNote) -> None:
        """The note is the person's and still a draft, and stays one until this transaction ends."""
        if note.author_id != principal.user_id:
            raise ExpenseError(NOT_YOURS, 403)
        held = await self.session.execute(
            update(ExpenseNote)
            .where(ExpenseNote.id == note.id, ExpenseNote.status == NoteStatus.DRAFT)
            .values(updated_at=_now())
            .execution_options(synchronize_session=False)
        )
        if _rowcount(held) != 1:
            raise ExpenseError(NOT_DRAFT, 409)

    async def add_expense_line(
        self,
        principal: Principal,
        note: ExpenseNote,
        values: ExpenseValues,
        receipt: CheckedReceipt,
        store: ReceiptStore,
    ) -> ExpenseLine:
        """A line typed from a receipt; the receipt is stored, and removed again if the line is not saved."""
        await self._hold_draft(principal, note)
        storage_name = await anyio.to_thread.run_sync(store.save, receipt)  # written and flushed to disk
        try:
            line = ExpenseLine(
                note=note,
                expense_date=values.expense_date,
                category=values.category,
                merchant=values.merchant,
                purpose=values.purpose,
                amount_ttc=values.amount_ttc,
                vat_amount=values.vat_amount,
            )
            line.receipt = ExpenseReceipt(
                line=line,
                storage_name=storage_name,
                content_type=receipt.content_type,
                size=len(receipt.data),
                sha256=receipt.sha256,
                original_name=receipt.original_name,
            )
            self.session.add(line)
            await self.session.flush()
        except BaseException:
            store.discard(storage_name)
            raise
        return line

    async def declared_km(self, author_id: uuid.UUID, year: int) -> int:
        """Kilometres the person already declared for trips of ``year`` (every note of theirs)."""
        total = await self.session.scalar(
            select(func.coalesce(func.sum(ExpenseLine.distance_km), 0))
            .join(ExpenseNote, ExpenseNote.id == ExpenseLine.note_id)
            .where(
                ExpenseNote.author_id == author_id,
                ExpenseLine.category == ExpenseCategory.MILEAGE,
                ExpenseLine.expense_date >= dt.date(year, 1, 1),
                ExpenseLine.expense_date <= dt.date(year, 12, 31),
            )
        )
        return int(total or 0)

    async def mileage_allowance(self, note: ExpenseNote, values: MileageValues) -> mileage.TripAllowance:
        """What the trip is worth on the note's author's scale for its year, after the km already declared."""
        year = values.expense_date.year
        return mileage.trip_allowance(
            mileage.scale_for(year),
            values.horsepower,
            prior_km=await self.declared_km(note.author_id, year),
            km=values.distance_km,
            electric=values.electric,
            trip_year=year,
        )

    async def add_mileage_line(self, principal: Principal, note: ExpenseNote, values: MileageValues) -> ExpenseLine:
        """A trip, paid by the barème: its inputs and computed amount are frozen on the line. No VAT."""
        await self._hold_draft(principal, note)
        if self.session.get_bind().dialect.name == "postgresql":
            # Two trips saved at once must not both count the same kilometres already declared: the
            # author's trips are added one after the other (SQLite's writers are serialised already).
            await self.session.execute(select(User.id).where(User.id == note.author_id).with_for_update())
        allowance = await self.mileage_allowance(note, values)
        line = ExpenseLine(
            note=note,
            expense_date=values.expense_date,
            category=ExpenseCategory.MILEAGE,
            merchant=values.purpose[:200],
            purpose=values.purpose,
            amount_ttc=allowance.amount,
            vat_amount=Decimal("0.00"),
            horsepower=values.horsepower,
            distance_km=values.distance_km,
            electric=values.electric,
            prior_km=allowance.prior_km,
            scale_year=allowance.scale_year,
        )
        self.session.add(line)
        await self.session.flush()
        return line

    async def delete_line(
        self, principal: Principal, note: ExpenseNote, line_id: uuid.UUID, store: ReceiptStore
    ) -> None:
        """Remove a line of a draft (404 if it is not this note's); its receipt file goes once this commits."""
        line = next((line for line in note.lines if line.id == line_id), None)
        if line is None:
            raise NotFoundException
        await self._hold_draft(principal, note)
        if line.receipt is not None:
            store.discard_after_commit(self.session.sync_session, line.receipt.storage_name)
        # Deleted explicitly (not as an orphan of the collection), so the audit log sees the line and its
        # receipt go while they still know their note, hence their dossier.
        await self.session.delete(line)
        await self.session.flush()
        set_committed_value(note, "lines", [kept for kept in note.lines if kept is not line])

    # --- the status flow --------------------------------------------------------------

    async def _move(
        self,
        principal: Principal,
        note: ExpenseNote,
        expected: NoteStatus,
        new: NoteStatus,
        *,
        comment: str | None = None,
        **values: Any,
    ) -> None:
        statement = (
            update(ExpenseNote)
            .where(ExpenseNote.id == note.id, ExpenseNote.status == expected)
            .values(status=new, **values)
            .execution_options(synchronize_session=False)
        )
        if new is NoteStatus.SUBMITTED:
            statement = statement.where(exists().where(ExpenseLine.note_id == ExpenseNote.id))
        if _rowcount(await self.session.execute(statement)) != 1:
            raise ExpenseError(CHANGED, 409)
        for key, value in {"status": new, **values}.items():
            set_committed_value(note, key, value)
        transition = ExpenseTransition(note_id=note.id, actor_id=principal.user_id, from_status=expected,
                                       to_status=new, comment=comment)  # fmt: skip
        self.session.add(transition)
        record(
            self.session,
            f"expense_note.{new.value}",
            object_type="expense_note",
            object_id=str(note.id),
            dossier_id=note.dossier_id,
            reference=note.reference,
            previous=expected,
            status=new,
            comment=comment,
        )
        await self.session.flush()
        await self._tell(principal, note, transition)

    async def _tell(self, principal: Principal, note: ExpenseNote, transition: ExpenseTransition) -> None:
        """In the same transaction: a submitted note to its approvers, a decision to its author."""
        kind = _NOTICES.get(transition.to_status)
        if kind is None:
            return
        if kind is Kind.EXPENSE_SUBMITTED:
            approvers = await holders(self.session, Permission.EXPENSES_APPROVE, note.dossier_id)
            recipients = [person for person in approvers if person != note.author_id]
        else:
            recipients = await holders(self.session, Permission.EXPENSES_FILE, note.dossier_id, among=[note.author_id])
        event = Event(
            kind=kind, key=f"expense-note:{transition.id}", target=f"/notes-de-frais/{note.id}",
            dossier_id=note.dossier_id,
            params={"reference": note.reference, "title": note.title, "author": note.author.name,
                    "actor": principal.name, "comment": transition.comment or ""},
        )  # fmt: skip
        await notify(self.session, event, recipients)

    async def submit(self, principal: Principal, note: ExpenseNote) -> None:
        if note.author_id != principal.user_id:
            raise ExpenseError(NOT_YOURS, 403)
        if note.status is NoteStatus.DRAFT and not note.lines:
            raise ExpenseError(NO_LINES)
        await self._move(principal, note, NoteStatus.DRAFT, NoteStatus.SUBMITTED, submitted_at=_now())

    async def reopen(self, principal: Principal, note: ExpenseNote) -> None:
        """A refused note back to draft, for its author to correct and submit again."""
        if note.author_id != principal.user_id:
            raise ExpenseError(NOT_YOURS, 403)
        await self._move(principal, note, NoteStatus.REFUSED, NoteStatus.DRAFT)

    def check_approver(self, principal: Principal, note: ExpenseNote) -> None:
        """The person approves notes of the note's dossier, and the note is not their own."""
        if note.author_id == principal.user_id:
            raise ExpenseError(OWN_NOTE, 403)
        if not principal.can(Permission.EXPENSES_APPROVE, note.dossier_id):
            raise ExpenseError(NOT_APPROVER, 403)

    async def approve(self, principal: Principal, note: ExpenseNote) -> None:
        """Approve a submitted note: its entry is dated today, owed on 421 or 467 by the author's roles."""
        self.check_approver(principal, note)
        await self._move(
            principal,
            note,
            NoteStatus.SUBMITTED,
            NoteStatus.APPROVED,
            accounting_date=today(),
            payable_account=payable_account(note.author.firm_roles),
        )

    async def refuse(self, principal: Principal, note: ExpenseNote, comment: str) -> None:
        self.check_approver(principal, note)
        comment = comment.strip()
        if not comment:
            raise ExpenseError(NO_COMMENT)
        await self._move(principal, note, NoteStatus.SUBMITTED, NoteStatus.REFUSED, comment=comment)

    async def mark_paid(self, principal: Principal, note: ExpenseNote) -> None:
        self.check_approver(principal, note)
        await self._move(principal, note, NoteStatus.APPROVED, NoteStatus.PAID, paid_at=_now())


def _waiting_for(principal: Principal) -> Select[Any]:
    """Submitted notes ``principal`` approves (through the permission model), never their own."""
    return restrict(select(ExpenseNote), principal, Permission.EXPENSES_APPROVE, ExpenseNote).where(
        ExpenseNote.status == NoteStatus.SUBMITTED, ExpenseNote.author_id != principal.user_id
    )


def approves_somewhere(principal: Principal) -> bool:
    return principal.can_somewhere(Permission.EXPENSES_APPROVE)


async def count_to_approve(session: AsyncSession, principal: Principal) -> int:
    """How many notes wait for ``principal``'s approval, read through the permission model."""
    if not approves_somewhere(principal):
        return 0
    counted = _waiting_for(principal).with_only_columns(func.count(ExpenseNote.id)).order_by(None)
    return int(await session.scalar(counted) or 0)


_NOTICES = {
    NoteStatus.SUBMITTED: Kind.EXPENSE_SUBMITTED,
    NoteStatus.APPROVED: Kind.EXPENSE_APPROVED,
    NoteStatus.REFUSED: Kind.EXPENSE_REFUSED,
}
"""The changes of status people are told of (Notifications)."""


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)  # noqa: S101 - an UPDATE answers with a cursor result
    return result.rowcount
