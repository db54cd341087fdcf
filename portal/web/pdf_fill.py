"""Many documents of one shape, printed fast: WeasyPrint lays out the page once as a form, the texts are written in.

WeasyPrint spends about a millisecond on every line of text it lays out and draws, whatever the line holds: an
invoice of eighty lines costs more than a hundred milliseconds, which a billing run of thousands cannot afford.
Most of a firm's invoice is the same from one invoice to the next (its identity, the labels, the legal mentions);
what changes sits in a few places of fixed width. So a document is printed in two steps:

* ``forms(keys, html, static_dir, write)``: each page laid out by WeasyPrint (PDF/A-3b, its fonts embedded)
  with every changing text left out, each in an empty block ``<div class="slot" data-slot="NAME"
  style="height: Nlh">`` of as many lines as it will hold. Each slot's box, font size, weight, colour, alignment
  and line height are read from the layout: the template and its CSS stay the only description of the page.
  Forms are kept (per process, by their HTML): a billing run lays out a handful, those a batch lacks laid out
  together as one WeasyPrint document.
* ``fill(form, placed)`` and ``Form.document``: each slot's lines written into its box, in DejaVu Sans (regular
  or bold as the slot's CSS says) from the same font file fontconfig gives WeasyPrint, subset once per process
  to the Latin letters, digits and signs an invoice uses, embedded in the page with its widths and ``ToUnicode``
  map (the text can be searched and copied); the page's PDF is the form's bytes, the document's own objects
  (its content, and the caller's: Factur-X's XMP, attached XML, information dictionary) and a new cross-reference
  table, written in about a millisecond. Nothing is drawn outside a slot: ``fit`` says first whether every text
  fits, in the font's characters, each line within its slot's width and each slot's lines within its height;
  when one does not, the caller prints that document the slow way, entirely through WeasyPrint.

Text is set the way Pango sets it, without kerning or ligatures (a few hundredths of a point per pair); the
baseline is placed as CSS places it, half the leading above the font's ascent.
"""

from __future__ import annotations

import functools
import hashlib
import io
import shutil
import subprocess
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NullObject,
    NumberObject,
    StreamObject,
)

from portal.web.pdf import layout

PX = 0.75  # a CSS pixel in points
FORMS_KEPT = 256  # a form keeps its PDF (about 50 KB): a few hundred shapes of invoice in a dozen MB
BOLD = 600  # a font weight from which the bold face is used, as fontconfig matches it
FONT_FILES = {
    False: ("DejaVu Sans:style=Book", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    True: ("DejaVu Sans:style=Bold", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
}
FONT_NAMES = {False: "/PortalSans", True: "/PortalSansBold"}
# Printable ASCII, Latin-1, Latin Extended-A, and the spaces, quotes, dashes and signs French typography uses.
CHARACTERS = frozenset(
    [*range(0x20, 0x7F), *range(0xA0, 0x180), 0x2009, 0x202F, 0x2013, 0x2014, 0x2018, 0x2019, 0x201A, 0x201C,
     0x201D, 0x201E, 0x2022, 0x2026, 0x2030, 0x2039, 0x203A, 0x20AC, 0x2122]
)  # fmt: skip


class FormRefusedError(ValueError):
    """A page that cannot serve as a form (more than one page, a slot whose style cannot be followed)."""


# --- the font ---------------------------------------------------------------------------------------------


def _font_file(bold: bool) -> Path | None:
    pattern, debian = FONT_FILES[bold]
    fc_match = shutil.which("fc-match")
    if fc_match:
        found = subprocess.run(  # noqa: S603 - a fixed program and pattern
            [fc_match, "--format=%{file}", pattern], capture_output=True, text=True, check=False, timeout=10
        ).stdout.strip()
        if found.lower().endswith(".ttf") and Path(found).is_file():
            return Path(found)
    return Path(debian) if Path(debian).is_file() else None


class Face:
    """DejaVu Sans (or its bold), subset to ``CHARACTERS``: what each character draws, how wide, and the PDF font."""

    def __init__(self, path: Path, bold: bool) -> None:
        from fontTools import subset  # type: ignore[import-untyped]  # noqa: PLC0415 - only when printing
        from fontTools.ttLib import TTFont  # type: ignore[import-untyped]  # noqa: PLC0415

        options = subset.Options()
        options.layout_features = []
        options.hinting = False
        options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "FFTM", "MATH"]
        options.name_IDs = [1, 2, 3, 4, 5, 6]  # its names, not its licence's text (the PDF does not show it)
        font = TTFont(io.BytesIO(path.read_bytes()), lazy=True)  # read whole: nothing left open
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=CHARACTERS)
        subsetter.subset(font)
        out = io.BytesIO()
        font.save(out)
        self.program = out.getvalue()
        font = TTFont(io.BytesIO(self.program))
        self.bold = bold
        per_em = font["head"].unitsPerEm
        self.scale = 1000 / per_em
        order = font.getGlyphOrder()
        advances = {name: font["hmtx"][name][0] for name in order}
        self.glyph_widths = [round(advances[name] * self.scale) for name in order]
        cmap = font.getBestCmap()
        self.codes: dict[str, str] = {}
        self.widths: dict[str, float] = {}  # in thousandths of the font size
        unicode_of: dict[int, int] = {}
        for code, name in sorted(cmap.items()):
            gid = font.getGlyphID(name)
            self.codes[chr(code)] = f"{gid:04x}"
            self.widths[chr(code)] = advances[name] * self.scale
            unicode_of.setdefault(gid, code)
        self.unicode_of = unicode_of
        self.ascent = font["hhea"].ascent * self.scale / 1000
        self.descent = -font["hhea"].descent * self.scale / 1000
        head = font["head"]
        self.bbox = [round(value * self.scale) for value in (head.xMin, head.yMin, head.xMax, head.yMax)]
        self.cap_height = round(getattr(font["OS/2"], "sCapHeight", 0) * self.scale) or self.bbox[3]
        tag = "".join(chr(65 + byte % 26) for byte in hashlib.sha256(self.program).digest()[:6])
        base = "DejaVuSans-Bold" if bold else "DejaVuSans"
        self.base_font = f"/{tag}+{base}"

    def covers(self, text: str) -> bool:
        return all(char in self.codes for char in text)

    def width(self, text: str, size: float) -> float:
        """The width of ``text`` at ``size`` points, in points (every character covered)."""
        return sum(self.widths[char] for char in text) * size / 1000

    def hex(self, text: str) -> str:
        return "".join(self.codes[char] for char in text)

    def objects(self, writer: PdfWriter) -> Any:
        """The Type 0 font (Identity-H, a CIDFontType2 with its TrueType program and ToUnicode map) in ``writer``."""
        program = StreamObject()
        program._data = zlib.compress(self.program, 6)  # noqa: SLF001 - an encoded stream's bytes
        program.update({NameObject("/Filter"): NameObject("/FlateDecode"),
                        NameObject("/Length1"): NumberObject(len(self.program))})  # fmt: skip
        descriptor = DictionaryObject({
            NameObject("/Type"): NameObject("/FontDescriptor"),
            NameObject("/FontName"): NameObject(self.base_font),
            NameObject("/Flags"): NumberObject(4),
            NameObject("/FontBBox"): ArrayObject(NumberObject(value) for value in self.bbox),
            NameObject("/ItalicAngle"): NumberObject(0),
            NameObject("/Ascent"): NumberObject(round(self.ascent * 1000)),
            NameObject("/Descent"): NumberObject(-round(self.descent * 1000)),
            NameObject("/CapHeight"): NumberObject(self.cap_height),
            NameObject("/StemV"): NumberObject(140 if self.bold else 80),
            NameObject("/FontFile2"): writer._add_object(program),  # noqa: SLF001 - pypdf's way to add an object
        })  # fmt: skip
        to_unicode = DecodedStreamObject()
        to_unicode.set_data(self._cmap())
        cid_font = DictionaryObject({
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/CIDFontType2"),
            NameObject("/BaseFont"): NameObject(self.base_font),
            NameObject("/CIDSystemInfo"): DictionaryObject({
                NameObject("/Registry"): _text("Adobe"), NameObject("/Ordering"): _text("Identity"),
                NameObject("/Supplement"): NumberObject(0),
            }),
            NameObject("/CIDToGIDMap"): NameObject("/Identity"),
            NameObject("/DW"): NumberObject(0),
            NameObject("/W"): ArrayObject([NumberObject(0), ArrayObject(NumberObject(w) for w in self.glyph_widths)]),
            NameObject("/FontDescriptor"): writer._add_object(descriptor),  # noqa: SLF001
        })  # fmt: skip
        font = DictionaryObject({
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type0"),
            NameObject("/BaseFont"): NameObject(self.base_font),
            NameObject("/Encoding"): NameObject("/Identity-H"),
            NameObject("/DescendantFonts"): ArrayObject([writer._add_object(cid_font)]),  # noqa: SLF001
            NameObject("/ToUnicode"): writer._add_object(to_unicode.flate_encode()),  # noqa: SLF001
        })  # fmt: skip
        return writer._add_object(font)  # noqa: SLF001

    def _cmap(self) -> bytes:
        entries = sorted(self.unicode_of.items())
        lines = [
            "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            f"/CMapName /{self.base_font[1:7]}-UCS def", "/CMapType 2 def",
            "1 begincodespacerange", "<0000> <ffff>", "endcodespacerange",
        ]  # fmt: skip
        for start in range(0, len(entries), 100):
            chunk = entries[start : start + 100]
            lines.append(f"{len(chunk)} beginbfchar")
            lines.extend(f"<{gid:04x}> <{code:04x}>" for gid, code in chunk)
            lines.append("endbfchar")
        lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
        return "\n".join(lines).encode()


def _text(value: str) -> Any:
    from pypdf.generic import TextStringObject  # noqa: PLC0415

    return TextStringObject(value)


@functools.cache
def faces() -> dict[bool, Face] | None:
    """The regular and bold faces, once per process; None when the font files are not on this machine."""
    files = {bold: _font_file(bold) for bold in (False, True)}
    if any(path is None for path in files.values()):
        return None
    return {bold: Face(path, bold) for bold, path in files.items() if path is not None}


# --- the form ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Slot:
    """A block to write lines into, in points from the page's top left corner, and how its text is set."""

    x: float
    top: float
    width: float
    height: float
    size: float
    bold: bool
    color: tuple[float, float, float]
    right: bool
    line_height: float

    @property
    def capacity(self) -> int:
        """How many lines the block holds."""
        return round(self.height / self.line_height + 0.01) if self.line_height else 0


Complete = Callable[[PdfWriter, Mapping[str, IndirectObject]], None]


@dataclass(frozen=True, slots=True)
class Form:
    """A laid-out page whose slots are to be written into, and its PDF less each document's own objects.

    ``head`` is the form's PDF, header and objects, less the objects reserved for each document (``reserved``, by
    name: the page's content stream written by ``fill``, and whatever the caller reserved in its catalog): every
    object of ``head`` is at the same place in every document; ``document`` adds the reserved objects, the
    cross-reference table and the trailer."""

    slots: dict[str, Slot]
    page_height: float
    head: bytes
    offsets: dict[int, int]  # where each object of ``head`` starts
    reserved: dict[str, int]  # the object number of each object a document writes
    root: int

    def document(self, objects: Mapping[str, bytes], *, info: str) -> bytes:
        """The PDF of one document: ``objects`` (each reserved name's serialised object, ``serialised``) after
        ``head``, the reserved object ``info`` as its document information dictionary."""
        out = io.BytesIO()
        out.write(self.head)
        offsets = dict(self.offsets)
        for name, number in sorted(self.reserved.items(), key=lambda item: item[1]):
            offsets[number] = out.tell()
            out.write(b"%d 0 obj\n%s\nendobj\n" % (number, objects[name]))
        xref = out.tell()
        size = max(offsets) + 1
        rows = [b"xref\n0 %d\n0000000000 65535 f \n" % size]
        rows.extend(b"%010d 00000 n \n" % offsets[number] if number in offsets else b"0000000000 65535 f \n"
                    for number in range(1, size))  # fmt: skip
        out.write(b"".join(rows))
        digest = hashlib.md5(out.getvalue(), usedforsecurity=False).hexdigest().encode()
        out.write(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n"
                  % (size, self.root, self.reserved[info], digest, digest, xref))  # fmt: skip
        return out.getvalue()


def serialised(value: Any) -> bytes:
    """A pypdf object as it is written in a PDF's body (a stream with its dictionary)."""
    out = io.BytesIO()
    value.write_to_stream(out)
    return out.getvalue()


def _slot(box: Any) -> Slot:
    style = box.style
    size = style["font_size"] * PX
    line_height = style["line_height"]  # a factor of the font size, a length in pixels, or "normal"
    if isinstance(line_height, int | float):
        leading = line_height * size
    elif getattr(line_height, "unit", None) == "px":
        leading = line_height.value * PX
    else:
        raise FormRefusedError("line-height")
    color = style["color"]
    if getattr(color, "space", "srgb") != "srgb":
        raise FormRefusedError("color")
    red, green, blue = tuple(color)[:3]
    return Slot(
        x=box.content_box_x() * PX, top=box.content_box_y() * PX, width=box.width * PX, height=box.height * PX,
        size=size, bold=style["font_weight"] >= BOLD, color=(red, green, blue),
        right=style["text_align_all"] in {"right", "end"}, line_height=leading,
    )  # fmt: skip


def _slots(page: Any) -> dict[str, Slot]:
    slots: dict[str, Slot] = {}
    page_box = page._page_box  # noqa: SLF001 - the laid-out boxes, which WeasyPrint keeps per page
    for box in page_box.descendants():
        element = getattr(box, "element", None)
        name = element.get("data-slot") if element is not None else None
        if name and name not in slots and type(box).__name__ == "BlockBox":
            slots[name] = _slot(box)
    return slots


def _prepared(
    reader: PdfReader, index: int, page_faces: Mapping[bool, Face], reserve: Sequence[str], complete: Complete | None
) -> Any:
    """The form's PDF with the portal's fonts in its page's resources, ``q`` before its content, the objects each
    document writes reserved (``fill``'s content stream, the caller's ``reserve``), and whatever ``complete`` adds
    to it: its header and objects without the reserved ones, where each starts, their numbers, the catalog's."""
    writer = PdfWriter()
    writer.metadata = None  # each document writes its own information dictionary
    page = writer.add_page(reader.pages[index])
    for key in ("/OutputIntents", "/Lang", "/MarkInfo"):
        if key in reader.root_object:
            writer.root_object[NameObject(key)] = reader.root_object[key].clone(writer)
    resources = cast("DictionaryObject", page["/Resources"].get_object())
    fonts = cast("DictionaryObject", resources["/Font"].get_object()) if "/Font" in resources else DictionaryObject()
    for bold, face in page_faces.items():
        fonts[NameObject(FONT_NAMES[bold])] = face.objects(writer)
    resources[NameObject("/Font")] = fonts
    opening = DecodedStreamObject()
    opening.set_data(b"q\n")
    opened = writer._add_object(opening)  # noqa: SLF001 - pypdf's way to add an object
    refs = {name: writer._add_object(NullObject()) for name in ("content", *reserve)}  # noqa: SLF001
    contents = page.raw_get("/Contents")  # the stream's reference: a stream in an array must be indirect
    page[NameObject("/Contents")] = ArrayObject([opened, contents, refs["content"]])
    if complete is not None:
        complete(writer, refs)
    out = io.BytesIO()
    writer.write(out)
    whole = out.getvalue()
    numbers = {name: ref.idnum for name, ref in refs.items()}
    # The form's objects in the order pypdf wrote them, each up to the next one (the last up to the cross-reference
    # table); the reserved ones left out, since each document writes its own.
    starts = sorted((offset, number) for number, offset in PdfReader(io.BytesIO(whole)).xref[0].items())
    table = int(whole[whole.rindex(b"startxref") + len(b"startxref") :].split()[0])
    head = io.BytesIO()
    head.write(whole[: starts[0][0]])
    offsets = {}
    for (start, number), (end, _) in zip(starts, [*starts[1:], (table, 0)], strict=True):
        if number not in numbers.values():
            offsets[number] = head.tell()
            head.write(whole[start:end])
    root = cast("IndirectObject", writer.root_object.indirect_reference).idnum
    return head.getvalue(), offsets, numbers, root


def anchor(index: int) -> str:
    """The ``id`` the ``index``-th form of a document laid out by ``forms`` carries on its page."""
    return f"pdf-form-{index}"


class _Forms:
    """The forms laid out in this process, by HTML (the most recently used ``FORMS_KEPT``); None for an HTML that
    cannot serve as a form."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kept: OrderedDict[tuple[Any, ...], Form | None] = OrderedDict()

    def known(self, key: tuple[Any, ...]) -> tuple[bool, Form | None]:
        with self.lock:
            if key not in self.kept:
                return False, None
            self.kept.move_to_end(key)
            return True, self.kept[key]

    def keep(self, key: tuple[Any, ...], form: Form | None) -> None:
        with self.lock:
            self.kept[key] = form
            while len(self.kept) > FORMS_KEPT:
                self.kept.popitem(last=False)


_FORMS = _Forms()


def forms(
    keys: Sequence[str],
    html: Callable[[Sequence[int]], str],
    static_dir: Path,
    write: Callable[[Any], bytes],
    *,
    reserve: Sequence[str] = (),
    complete: Complete | None = None,
) -> list[Form | None]:
    """The form of each of ``keys`` (the HTML of a form alone), None where it cannot be one (more than a page, a
    slot whose style cannot be followed, no font); the forms not laid out yet in this process are laid out
    together, as ONE WeasyPrint document: ``html(indices)``, the forms of ``keys[index]`` one after the other,
    the k-th starting on a new page with ``id="anchor(k)"``, printed by ``write(document)`` (PDF bytes).

    ``reserve`` names the objects each document writes besides its content (``Form.document``), and
    ``complete(writer, references)`` adds to each form's PDF what refers to them (a PDF/A document's XMP
    metadata is the caller's: ``complete`` adds it)."""
    found: dict[str, Form | None] = {}
    missing: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key in found or key in missing:
            continue
        known, form = _FORMS.known((key, static_dir, tuple(reserve), complete))
        if known:
            found[key] = form
        else:
            missing[key] = index
    if missing:
        laid_out = _laid_out(
            html(list(missing.values())), len(missing), static_dir, write, reserve=reserve, complete=complete
        )
        for key, form in zip(missing, laid_out, strict=True):
            _FORMS.keep((key, static_dir, tuple(reserve), complete), form)
            found[key] = form
    return [found[key] for key in keys]


def _laid_out(
    html: str, count: int, static_dir: Path, write: Callable[[Any], bytes], *, reserve: Sequence[str], complete: Any
) -> list[Form | None]:
    page_faces = faces()
    if page_faces is None:
        return [None] * count
    document = layout(html, static_dir)
    starts: dict[str, int] = {}
    for number, page in enumerate(document.pages):
        for name in page.anchors:
            starts.setdefault(name, number)
    reader = PdfReader(io.BytesIO(write(document)))
    laid_out: list[Form | None] = []
    for index in range(count):
        start = starts.get(anchor(index))
        end = starts.get(anchor(index + 1), len(document.pages)) if index + 1 < count else len(document.pages)
        if start is None or end != start + 1:
            laid_out.append(None)  # more than one page
            continue
        page = document.pages[start]
        try:
            slots = _slots(page)
            head, offsets, reserved, root = _prepared(reader, start, page_faces, reserve, complete)
        except FormRefusedError:
            laid_out.append(None)
            continue
        laid_out.append(Form(slots=slots, page_height=page.height * PX, head=head, offsets=offsets,
                             reserved=reserved, root=root))  # fmt: skip
    return laid_out


def forget_forms() -> None:
    """Forget the forms laid out so far (a benchmark's cold start)."""
    with _FORMS.lock:
        _FORMS.kept.clear()


# --- the texts --------------------------------------------------------------------------------------------


def wrap(text: str, face: Face, size: float, width: float) -> list[str]:
    """``text`` broken at its spaces into lines no wider than ``width`` points (a word wider stays whole)."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and face.width(candidate, size) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    lines.append(current)
    return lines


def lines_of(slot: Slot, paragraphs: Iterable[str]) -> list[str] | None:
    """The lines ``paragraphs`` take in ``slot``; None when a character is not in the font or a word is too wide."""
    page_faces = faces()
    if page_faces is None:
        return None
    face = page_faces[slot.bold]
    lines: list[str] = []
    for paragraph in paragraphs:
        if not face.covers(paragraph):
            return None
        for line in wrap(paragraph, face, slot.size, slot.width):
            if face.width(line, slot.size) > slot.width + 0.01:
                return None
            lines.append(line)
    return lines


def fit(form: Form, texts: Mapping[str, Sequence[str]]) -> dict[str, list[str]] | None:
    """Each slot's lines when every text fits ``form`` (its slots the texts' names, each within its box)."""
    if set(texts) != set(form.slots):
        return None
    placed: dict[str, list[str]] = {}
    for name, paragraphs in texts.items():
        slot = form.slots[name]
        lines = lines_of(slot, paragraphs)
        if lines is None or len(lines) > slot.capacity:
            return None
        placed[name] = lines
    return placed


def _pdf_real(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def content(form: Form, placed: Mapping[str, Sequence[str]]) -> bytes:
    """The page's content after the form's: ``Q`` closing it, then each slot's lines as text."""
    page_faces = faces()
    assert page_faces is not None  # noqa: S101 - fit() said the texts fit, which needs the faces
    ops = ["Q", "BT"]
    for name, lines in placed.items():
        slot = form.slots[name]
        face = page_faces[slot.bold]
        points = _pdf_real(slot.size)  # the font's size, in PDF points
        ops.append(f"{FONT_NAMES[slot.bold]} {points} Tf {' '.join(map(_pdf_real, slot.color))} rg")
        half_leading = (slot.line_height - (face.ascent + face.descent) * slot.size) / 2
        for index, line in enumerate(lines):
            if not line:
                continue
            x = slot.x + (slot.width - face.width(line, slot.size) if slot.right else 0)
            baseline = slot.top + index * slot.line_height + half_leading + face.ascent * slot.size
            ops.append(f"1 0 0 1 {_pdf_real(x)} {_pdf_real(form.page_height - baseline)} Tm <{face.hex(line)}> Tj")
    ops.append("ET")
    return "\n".join(ops).encode()


def fill(form: Form, placed: Mapping[str, Sequence[str]]) -> bytes:
    """The page's content stream with ``placed`` (from ``fit``) written into the slots, serialised for
    ``Form.document`` under the name ``content``."""
    stream = StreamObject()
    stream._data = zlib.compress(content(form, placed), 6)  # noqa: SLF001 - an encoded stream's bytes
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    return serialised(stream)
