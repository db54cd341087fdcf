"""What an audit event says, in words: one sentence per kind, its fields' labels, values formatted.

An event's kind is its ``action`` (``expense_note.submitted``, ``dossier.update``…). Each domain
declares the kinds it writes next to its models (``Sentences(…)`` in its plugin's ``parts``), so
this package never imports a domain: the registry is filled in as the domains are installed.
A sentence is a French msgid with named placeholders: ``actor`` (who acted), ``person`` (whom
the event is about), ``dossier`` (the dossier it belongs to) and any of the event's values,
formatted by its field (dates, amounts, roles, Oui/Non). The fields that carry a label are
listed under the sentence, ``before → after`` for a change.

Names (people, dossiers) come from the domains that own them (``Names(…)``, registered the same
way), asked with the reader's principal: a dossier the reader may not see has no name to show.
An unknown kind still reads as words: its object and its values, labelled from their keys.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from portal.i18n import N_, current_babel_locale, gettext, local_date, local_datetime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from portal.audit.models import AuditEvent
    from portal.auth.policy import Principal

# The values the recorder writes and nobody reads: ids, technical counters.
HIDDEN = frozenset({"id", "_sentinel"})

_KIBI = 1024
_ISO_DATE = len("2026-01-31")

PERSON = "person"
DOSSIER = "dossier"


@dataclass(frozen=True)
class Context:
    """The names a sentence may use, looked up once for a page of events."""

    people: Mapping[uuid.UUID, str] = field(default_factory=dict)
    dossiers: Mapping[uuid.UUID, str] = field(default_factory=dict)

    def person(self, value: Any) -> str:
        return self.people.get(_uuid(value) or uuid.UUID(int=0), gettext("une personne"))

    def dossier(self, value: Any) -> str:
        return self.dossiers.get(_uuid(value) or uuid.UUID(int=0), gettext("un dossier"))


Show = Callable[[Any, Context], str]


def _uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def text(value: Any, _context: Context) -> str:
    if isinstance(value, bool):
        return yes_no(value, _context)
    if isinstance(value, list):
        return ", ".join(text(item, _context) for item in value) or "—"
    return "—" if value is None or value == "" else str(value)


def said(value: Any, context: Context) -> str:
    """A message the portal stored as its French msgid (a connection's last error): in the reader's language."""
    return text(gettext(value) if isinstance(value, str) and value else value, context)


def yes_no(value: Any, _context: Context) -> str:
    return "—" if value is None else gettext("Oui") if value else gettext("Non")


def day(value: Any, _context: Context) -> str:
    if not value:
        return "—"
    return local_date(dt.date.fromisoformat(str(value)[:10]) if isinstance(value, str) else value)


def month(value: Any, _context: Context) -> str:
    """The month a first day stands for: « décembre 2025 »."""
    if not value:
        return "—"
    first = dt.date.fromisoformat(str(value)[:_ISO_DATE]) if isinstance(value, str) else value
    return format_date(first, "LLLL yyyy", locale=current_babel_locale())


def moment(value: Any, _context: Context) -> str:
    return local_datetime(value) or "—"


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value is None or isinstance(value, bool) else Decimal(str(value))
    except InvalidOperation:
        return None


def euros(value: Any, _context: Context) -> str:
    amount = _decimal(value)
    return "—" if amount is None else format_currency(amount, "EUR", locale=current_babel_locale())


def euro_cents(value: Any, context: Context) -> str:
    amount = _decimal(value)
    return euros(None if amount is None else amount / 100, context)


def number(value: Any, _context: Context) -> str:
    amount = _decimal(value)
    return text(value, _context) if amount is None else format_decimal(amount, locale=current_babel_locale())


def bytes_size(value: Any, _context: Context) -> str:
    amount = _decimal(value)
    if amount is None:
        return "—"
    kilo = amount / _KIBI
    if kilo < _KIBI:
        return gettext("%(size)s Ko") % {"size": format_decimal(round(kilo, 1), locale=current_babel_locale())}
    return gettext("%(size)s Mo") % {"size": format_decimal(round(kilo / _KIBI, 1), locale=current_babel_locale())}


def person(value: Any, context: Context) -> str:
    if isinstance(value, list):
        return ", ".join(context.person(item) for item in value) or "—"
    return "—" if value is None else context.person(value)


def dossier(value: Any, context: Context) -> str:
    if isinstance(value, list):
        return ", ".join(context.dossier(item) for item in value) or "—"
    return "—" if value is None else context.dossier(value)


def labels(choices: Mapping[str, str]) -> Show:
    """Values among ``choices`` (a code → its French label, a msgid); other values as they are."""

    def show(value: Any, context: Context) -> str:
        if isinstance(value, list):
            return ", ".join(show(item, context) for item in value) or "—"
        label = choices.get(str(value)) if value is not None else None
        return gettext(label) if label is not None else text(value, context)

    return show


def of_enum(members: Iterable[Any]) -> Show:
    """Values of an enum whose members have a ``label`` (a msgid)."""
    return labels({str(member.value): member.label for member in members})


@dataclass(frozen=True)
class Field:
    """How one value of an event reads: its ``label`` (listed under the sentence; None: in the sentence only)."""

    label: str | None
    show: Show = text


@dataclass(frozen=True)
class Sentences:
    """The kinds one object type's events come in, as sentences, and its fields; a domain's plugin registers it.

    ``kinds``: the part after the object type (``create``, ``update``, ``submitted``…) → the sentence.
    ``area``: what the object is, for the journal's filter (a plural msgid: « Notes de frais »).
    """

    object_type: str
    area: str
    kinds: Mapping[str, str]
    fields: Mapping[str, Field] = field(default_factory=dict)
    # Prefixes of the kinds, when they are not the object type (``auth.sign_in`` is about a user_account).
    prefix: str | None = None

    def register(self) -> None:
        _REGISTRY[self.prefix or self.object_type] = self

    def actions(self) -> list[str]:
        return [f"{self.prefix or self.object_type}.{kind}" for kind in self.kinds]


_REGISTRY: dict[str, Sentences] = {}


def registered() -> Sequence[Sentences]:
    return list(_REGISTRY.values())


def sentences_for(action: str) -> Sentences | None:
    return _REGISTRY.get(action.partition(".")[0])


def knows(action: str) -> bool:
    found = sentences_for(action)
    return found is not None and action.partition(".")[2] in found.kinds


def areas() -> list[tuple[str, str]]:
    """(key, label translated) of each area (« Notes de frais »…), by label: the journal's « Type » filter.

    Families sharing an area (a note, its lines, its receipts) are one choice, keyed by the first family.
    """
    seen: dict[str, str] = {}
    for prefix in sorted(_REGISTRY):
        seen.setdefault(_REGISTRY[prefix].area, prefix)
    return sorted(((key, gettext(area)) for area, key in seen.items()), key=lambda pair: pair[1].casefold())


def families(key: str) -> list[str]:
    """The families of kinds (prefixes) in the same area as ``key``; ``[key]`` when it is unknown."""
    entry = _REGISTRY.get(key)
    if entry is None:
        return [key]
    return sorted(prefix for prefix, other in _REGISTRY.items() if other.area == entry.area)


NameLookup = Callable[["AsyncSession", "Principal", Collection[uuid.UUID]], Awaitable[dict[uuid.UUID, str]]]


@dataclass(frozen=True)
class Names:
    """How a domain names its rows (``person`` or ``dossier``) for ``principal``: only those they may see."""

    kind: str
    lookup: NameLookup

    def register(self) -> None:
        _NAMES[self.kind] = self.lookup


_NAMES: dict[str, NameLookup] = {}


async def names_of(
    session: AsyncSession, principal: Principal, kind: str, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    """The names of ``ids`` that ``principal`` may read (none when no domain names that kind)."""
    wanted = {found for found in ids if found is not None}
    lookup = _NAMES.get(kind)
    if not wanted or lookup is None:
        return {}
    return await lookup(session, principal, wanted)


@dataclass(frozen=True)
class Change:
    """One value of an event: its label, before and after (None when there is no before, or no after)."""

    label: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Described:
    """An event in words."""

    event: AuditEvent
    sentence: str
    changes: list[Change]
    dossier_name: str | None


class _Values(dict[str, str]):
    """The placeholders of a sentence: one the event lacks reads as a dash, never as an error."""

    def __missing__(self, key: str) -> str:
        return "—"


def _actor(event: AuditEvent, context: Context) -> str:
    if event.actor_id is not None and event.actor_id in context.people:
        return context.people[event.actor_id]
    if event.actor_id is None and event.actor_label == "système":
        return gettext("Le portail")
    if event.actor_id is None and event.actor_label == "anonyme":
        return gettext("Une personne non connectée")
    return event.actor_label


def _humanise(key: str) -> str:
    return key.replace("_", " ").strip().capitalize()


def _guess(value: Any, context: Context) -> str:
    """A value of an unknown kind: Oui/Non, a date or an amount when it looks like one."""
    if isinstance(value, str) and len(value) >= _ISO_DATE and value[4:5] == "-" and value[7:8] == "-":
        try:
            dt.date.fromisoformat(value[:_ISO_DATE])
        except ValueError:
            return value
        return moment(value, context) if len(value) > _ISO_DATE else day(value, context)
    if isinstance(value, dict):
        return ", ".join(f"{_humanise(key)} : {_guess(item, context)}" for key, item in value.items()) or "—"
    return text(value, context)


def _show(entry: Sentences | None, key: str, value: Any, context: Context) -> str:
    found = entry.fields.get(key) if entry is not None else None
    return found.show(value, context) if found is not None else _guess(value, context)


def describe(event: AuditEvent, context: Context) -> Described:
    """``event`` as a sentence and its labelled values."""
    entry = sentences_for(event.action)
    verb = event.action.partition(".")[2]
    before, after = event.before or {}, event.after or {}
    values = _Values({key: _show(entry, key, value, context) for key, value in {**before, **after}.items()})
    values["actor"] = _actor(event, context)
    values["person"] = context.person(event.person_id)
    dossier_name = context.dossiers.get(event.dossier_id) if event.dossier_id else None
    values["dossier"] = dossier_name or gettext("un dossier")
    if entry is None or verb not in entry.kinds:
        return Described(event, _unknown(event, entry, values), _unknown_changes(event, context), dossier_name)
    return Described(event, gettext(entry.kinds[verb]) % values, _changes(entry, event, context), dossier_name)


def _unknown(event: AuditEvent, entry: Sentences | None, values: Mapping[str, str]) -> str:
    what = gettext(entry.area) if entry is not None else _humanise(event.object_type)
    return gettext("%(actor)s : %(action)s (%(what)s)") % {
        "actor": values["actor"],
        "action": _humanise(event.action.partition(".")[2] or event.action),
        "what": what,
    }


def _unknown_changes(event: AuditEvent, context: Context) -> list[Change]:
    before, after = event.before or {}, event.after or {}
    keys = [key for key in {**before, **after} if key not in HIDDEN and not key.endswith("_id")]
    return [
        Change(
            _humanise(key),
            _guess(before[key], context) if key in before and event.after else None,
            _guess(after[key], context) if key in after else _guess(before[key], context),
        )
        for key in keys
    ]


def _changes(entry: Sentences, event: AuditEvent, context: Context) -> list[Change]:
    before, after = event.before or {}, event.after or {}
    changes: list[Change] = []
    for key, spec in entry.fields.items():
        if spec.label is None or key in HIDDEN:
            continue
        if key in after:
            old = spec.show(before[key], context) if key in before else None
            new = spec.show(after[key], context)
            if key not in before and after[key] in (None, "", []):  # nothing to say (a creation's blank field)
                continue
            changes.append(Change(gettext(spec.label), old, new))
    return changes


def wanted_names(events: Iterable[AuditEvent]) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """The people and dossiers a page of events names: authors, subjects, and values that are names."""
    people: set[uuid.UUID] = set()
    dossiers: set[uuid.UUID] = set()
    for event in events:
        people.update(found for found in (event.actor_id, event.person_id) if found is not None)
        if event.dossier_id is not None:
            dossiers.add(event.dossier_id)
        entry = sentences_for(event.action)
        if entry is None:
            continue
        for key, value in {**(event.before or {}), **(event.after or {})}.items():
            spec = entry.fields.get(key)
            if spec is not None and spec.show in (person, dossier):
                ids = value if isinstance(value, list) else [value]
                target = people if spec.show is person else dossiers
                target.update(found for found in map(_uuid, ids) if found is not None)
    return people, dossiers


# Words shared by several domains' fields.
COMMON_FIELDS: Mapping[str, Field] = {
    "name": Field(N_("Nom")),
    "email": Field(N_("Adresse e-mail")),
    "status": Field(N_("Statut")),
}
