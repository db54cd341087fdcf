"""Every kind of audit event the portal writes reads as a sentence, with its values in words."""

from __future__ import annotations

import ast
import datetime as dt
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import portal
from portal.audit.mixins import Audited
from portal.audit.models import AuditEvent
from portal.audit.sentences import Context, describe, knows
from portal.db.base import Base
from portal.domains import install
from portal.expenses.models import NoteStatus
from portal.i18n import set_locale

PORTAL = Path(portal.__file__).resolve().parent
KIND = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")
# Kinds built at run time: the constant part, and every value the rest takes.
DYNAMIC: dict[str, list[str]] = {"expense_note.": [status.value for status in NoteStatus]}
# Calls whose string arguments look like kinds but name something else (jobs, schedules, columns).
NOT_AUDIT = frozenset({"job", "every", "getLogger", "ForeignKey"})


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _calls() -> Iterator[tuple[Path, ast.Call]]:
    for path in sorted(PORTAL.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                yield path, node


def _kind_of(path: Path, call: ast.Call) -> list[str]:
    """The kinds one ``record(session, kind, …)`` call may write (none when its kind is a parameter)."""
    action = call.args[1]
    if isinstance(action, ast.Constant) and isinstance(action.value, str):
        return [action.value]
    if isinstance(action, ast.JoinedStr):
        head = action.values[0]
        prefix = head.value if isinstance(head, ast.Constant) else ""
        assert prefix in DYNAMIC, f"{path}:{call.lineno}: a kind built at run time that the test cannot list"
        return [prefix + value for value in DYNAMIC[prefix]]
    assert isinstance(action, ast.Name), f"{path}:{call.lineno}: an audit kind the test cannot read"
    return []  # a parameter: its callers pass the kind (``recorded_kinds``)


def recorded_kinds() -> set[str]:
    """Every kind passed to ``record`` in portal/, and every kind-like string handed to a helper that records it
    (``self._audit(user, "second_factor.locked")``, ``remove(person, "second_factor.disable")``)."""
    kinds: set[str] = set()
    for path, call in _calls():
        if _name(call.func) == "record" and len(call.args) >= 2:
            kinds.update(_kind_of(path, call))
    families = {kind.partition(".")[0] for kind in kinds}
    for _path, call in _calls():
        if _name(call.func) in NOT_AUDIT:
            continue
        kinds.update(
            argument.value
            for argument in call.args
            if isinstance(argument, ast.Constant)
            and isinstance(argument.value, str)
            and KIND.match(argument.value)
            and argument.value.partition(".")[0] in families
        )
    return kinds


def model_kinds() -> set[str]:
    """What the recorder writes for every audited table: a creation, a change, a deletion."""
    tables = {mapper.class_.__tablename__ for mapper in Base.registry.mappers if issubclass(mapper.class_, Audited)}
    return {f"{table}.{verb}" for table in tables for verb in ("create", "update", "delete")}


def test_the_scan_finds_the_kinds_written_every_way() -> None:
    kinds = recorded_kinds()
    # A literal, a kind built from a status, and kinds handed to helpers that record them.
    assert {"user.invite", "expense_note.submitted", "second_factor.locked", "second_factor.disable"} <= kinds
    assert "auth.purge_login_attempts" not in kinds  # a job's name
    assert {"expense_note.update", "dossier.create", "user_role.delete"} <= model_kinds()


def test_every_kind_in_the_code_has_a_sentence() -> None:
    install()
    missing = sorted(kind for kind in recorded_kinds() | model_kinds() if not knows(kind))
    assert missing == [], f"kinds of audit events without a sentence: {missing}"


def _event(action: str, *, before: dict[str, object] | None = None, after: dict[str, object] | None = None,
           **values: object) -> AuditEvent:  # fmt: skip
    return AuditEvent(
        actor_id=values.get("actor_id"), actor_label=str(values.get("actor_label", "julie.bernard@cabinet-test.fr")),
        action=action, object_type=action.partition(".")[0], object_id=None, before=before, after=after,
        dossier_id=values.get("dossier_id"), person_id=values.get("person_id"), created_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip


def test_a_note_submitted_reads_as_a_sentence() -> None:
    install()
    set_locale("fr")
    julie = uuid.uuid4()
    submitted = {"reference": "NDF-2026-0012", "previous": "draft", "status": "submitted", "comment": None}
    event = _event("expense_note.submitted", actor_id=julie, after=submitted)
    described = describe(event, Context(people={julie: "Julie Bernard"}))
    assert described.sentence == "Julie Bernard a soumis la note de frais NDF-2026-0012"
    # Each labelled value; the reason, empty for a submission, is left out.
    assert [(change.label, change.after) for change in described.changes] == [
        ("Statut", "Soumise"), ("Statut précédent", "Brouillon"),
    ]  # fmt: skip


def test_a_change_shows_each_field_before_and_after_in_words() -> None:
    install()
    set_locale("fr")
    dossier_id = uuid.uuid4()
    event = _event("dossier.update", dossier_id=dossier_id, actor_label="système",
                   before={"is_confidential": False, "closing_month": 12, "status": "onboarding"},
                   after={"is_confidential": True, "closing_month": 6, "status": "active"})  # fmt: skip
    described = describe(event, Context(dossiers={dossier_id: "Restaurant Le Cèdre"}))
    assert described.sentence == "Le portail a modifié le dossier Restaurant Le Cèdre"
    rows = {change.label: (change.before, change.after) for change in described.changes}
    assert rows == {"Mois de clôture": ("décembre", "juin"), "Statut": ("En mise en place", "Actif"),
                    "Entreprise confidentielle": ("Non", "Oui")}  # fmt: skip
    line = _event("expense_line.create", after={"amount_ttc": "1234.50", "merchant": "SNCF", "expense_date":
                  "2026-03-02", "category": "transport", "electric": False, "id": str(uuid.uuid4())})  # fmt: skip
    described = describe(line, Context())
    assert described.sentence == "julie.bernard@cabinet-test.fr a ajouté une dépense de 1\u202f234,50\xa0€ chez SNCF"
    rows = {change.label: change.after for change in described.changes}
    assert rows["Date"] == "02/03/2026"
    assert rows["Catégorie"].startswith("Transport")
    assert rows["Véhicule électrique"] == "Non"
    assert not any(change.label.lower() == "id" for change in described.changes)


def test_an_unknown_kind_still_reads_as_words() -> None:
    install()
    set_locale("fr")
    event = _event("expense_note.archived", after={"archived_on": "2026-05-04", "kept": True})
    described = describe(event, Context())
    assert described.sentence == "julie.bernard@cabinet-test.fr : Archived (Notes de frais)"
    assert [(change.label, change.after) for change in described.changes] == [
        ("Archived on", "04/05/2026"), ("Kept", "Oui"),
    ]  # fmt: skip
    stranger = describe(_event("robot.dance", after={"steps": Decimal(3)}), Context())
    assert stranger.sentence == "julie.bernard@cabinet-test.fr : Dance (Robot)"


def test_sentences_are_translated() -> None:
    install()
    set_locale("en")
    try:
        julie = uuid.uuid4()
        event = _event("expense_note.approved", actor_id=julie,
                       after={"reference": "NDF-2026-0012", "previous": "submitted", "status": "approved"})  # fmt: skip
        described = describe(event, Context(people={julie: "Julie Bernard"}))
        assert described.sentence == "Julie Bernard approved expense note NDF-2026-0012"
        assert ("Status", "Approved") in [(change.label, change.after) for change in described.changes]
    finally:
        set_locale("fr")
