"""Walking the portal's pages in Chromium and checking what a person would call a broken layout.

On every page, at every width: the page never scrolls sideways, no element lies over another's
controls (each visible link, button and field is what a click at its centre reaches), the tabs hold
on one line, and the cells that hold amounts (``td.num``, ``td.amount``, or a cell whose whole text is
an amount in euros) are right-aligned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from playwright.async_api import Page

# Run in the page: the list of what is wrong with its layout, each problem in a sentence.
LAYOUT_PROBLEMS = r"""
() => {
  const problems = [];
  const name = (e) => {
    const text = (e.innerText || e.value || e.getAttribute('aria-label') || '').trim().replace(/\s+/g, ' ');
    return `<${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className && typeof e.className === 'string'
      ? '.' + e.className.trim().split(/\s+/).join('.') : ''}> « ${text.slice(0, 40)} »`;
  };
  const root = document.scrollingElement;
  if (root.scrollWidth > window.innerWidth) {
    const wide = [...document.body.querySelectorAll('*')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap, .scroll-box'))
      .slice(-3).map(name);
    problems.push(`la page défile de côté (${root.scrollWidth} px > ${window.innerWidth} px) : ${wide.join(', ')}`);
  }
  const controls = [...document.querySelectorAll(
    'a[href], button, input:not([type="hidden"]), select, textarea, summary'
  )].filter((e) => {
    const box = e.getBoundingClientRect();
    // checkVisibility: not inside a closed <details> nor anything hidden.
    // Rows repeat one layout: the first five of a table stand for the others (a long journal stays quick).
    return box.width >= 4 && box.height >= 4 && e.checkVisibility({ visibilityProperty: true })
      && !e.closest('.visually-hidden, .skip-link, [inert], tbody > tr:nth-child(n+6)');
  });
  // A link broken over two lines: its first line's box (the centre of the whole lies between the lines).
  const boxOf = (e) => e.getClientRects()[0] || e.getBoundingClientRect();
  for (const control of controls) {
    // Into view, its scrolling boxes included (a list that scrolls inside its box, tabs, a wide table).
    control.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    const box = boxOf(control);
    const inView = (b) => b.left + b.width / 2 >= 0 && b.top + b.height / 2 >= 0
      && b.left + b.width / 2 < window.innerWidth && b.top + b.height / 2 < window.innerHeight;
    if (!inView(box)) {
      problems.push(`${name(control)} est hors de l'écran`);
      continue;
    }
    const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    const reached = hit && (hit === control || control.contains(hit) || (hit.control === control));
    if (!reached) problems.push(`${name(control)} est recouvert par ${hit ? name(hit) : 'rien'}`);
  }
  window.scrollTo(0, 0);
  for (const tabs of document.querySelectorAll('nav.tabs')) {
    const tops = new Set([...tabs.querySelectorAll(':scope > a')].map((a) => Math.round(a.offsetTop)));
    if (tops.size > 1) problems.push(`les onglets « ${tabs.getAttribute('aria-label')} » passent à la ligne`);
  }
  const money = /^[−-]?\d{1,3}(?:[\s\u202f\u00a0.]\d{3})*,\d{2}\s?€$/;
  for (const cell of document.querySelectorAll('td, th')) {
    const marked = cell.matches('.num, .amount');
    const text = cell.innerText.trim();
    if (!text || !(marked || money.test(text))) continue;
    if (cell.getBoundingClientRect().width === 0) continue;
    const align = getComputedStyle(cell).textAlign;
    if (align !== 'right' && align !== 'end') problems.push(`le montant ${name(cell)} est aligné ${align}`);
  }
  return problems;
}
"""

# Links a walk never follows: files, signing out, other sites' sign-ins, development aids.
_NOT_PAGES = re.compile(
    r"\.(csv|pdf|txt|png|jpe?g|webp|svg|zip|xml)$|/fec$|/export|/deconnexion|/dev/|/oidc/|/sandbox|/justificatifs/"
)
# The query parameters that show another page rather than the same page otherwise sorted or paged.
_VIEW_PARAMETERS = {"onglet", "vue"}
_PARAMETER = re.compile(r"\{\w+:(\w+)\}")
_PARAMETER_PATTERNS = {"uuid": "[0-9a-fA-F-]{36}", "path": ".*"}


def route_patterns(paths: Iterable[str]) -> list[tuple[re.Pattern[str], str]]:
    """The app's routes (``/entreprises/{dossier_id:uuid}``…) as patterns, the most literal first."""

    def pattern(path: str) -> re.Pattern[str]:
        parts = _PARAMETER.split(path)
        literal = [re.escape(part) for part in parts[::2]]
        kinds = [_PARAMETER_PATTERNS.get(kind, "[^/]+") for kind in parts[1::2]]
        return re.compile("".join(a + b for a, b in zip(literal, [*kinds, ""], strict=True)) + "$")

    return [(pattern(path), path) for path in sorted(set(paths), key=lambda path: (path.count("{"), path))]


def page_kind(url: str, routes: list[tuple[re.Pattern[str], str]]) -> str:
    """One key per route and view (a panel's tab): ids, sorting, paging and searches set aside."""
    parts = urlsplit(url)
    route = next((template for pattern, template in routes if pattern.match(parts.path)), parts.path)
    view = sorted((key, value) for key, value in parse_qsl(parts.query) if key in _VIEW_PARAMETERS)
    return route + (f"?{urlencode(view)}" if view else "")


@dataclass
class Walk:
    """The pages a person reaches from the menu, the tabs and the links of the pages on the way."""

    page: Page
    base: str
    routes: list[tuple[re.Pattern[str], str]]
    widths: tuple[tuple[int, int], ...]
    shots: Path | None = None
    label: str = ""
    seen: set[str] = field(default_factory=set)
    visited: list[str] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)

    async def links(self) -> list[str]:
        hrefs: list[str] = await self.page.eval_on_selector_all(
            "a[href]:not([download]):not([target])", "links => links.map(link => link.getAttribute('href'))"
        )
        found = []
        for href in hrefs:
            if not href.startswith("/") or href.startswith("//"):
                continue
            address = href.split("#", 1)[0]
            if address and not _NOT_PAGES.search(urlsplit(address).path):
                found.append(address)
        return found

    async def settled(self) -> None:
        """Whatever htmx loads as the page opens has arrived."""
        await self.page.wait_for_function("() => !document.querySelector('.htmx-request')")

    async def check(self, name: str) -> None:
        """The layout checks at each width, the page as it stands (an open panel, a filled form)."""
        for width, height in self.widths:
            await self.page.set_viewport_size({"width": width, "height": height})
            if self.shots is not None:  # before the checks, which scroll the page and its boxes
                slug = re.sub(r"[^a-z0-9]+", "-", f"{self.label} {name}".lower()).strip("-")[:120]
                await self.page.screenshot(path=str(self.shots / f"{slug}-{width}.png"), full_page=True)
            found = await self.page.evaluate(LAYOUT_PROBLEMS)
            if found:
                self.problems[f"{name} @{width}"] = found

    async def visit(self, address: str) -> list[str]:
        response = await self.page.goto(self.base + address)
        self.visited.append(address)
        status = response.status if response is not None else 0
        if status >= 400:
            self.problems[address] = [f"répond {status}"]
            return []
        await self.settled()
        await self.check(page_kind(self.page.url.removeprefix(self.base), self.routes))
        return await self.links()

    async def run(self, starts: Iterable[str], *, limit: int = 80) -> None:
        pending = list(starts)
        while pending and len(self.visited) < limit:
            address = pending.pop(0)
            kind = page_kind(address, self.routes)
            if kind in self.seen:
                continue
            self.seen.add(kind)
            pending.extend(await self.visit(address))


async def open_menu(page: Page) -> None:
    """Unfold the menu when it is folded behind its button (a phone); on a desk it is always there."""
    button = page.locator(".menu-toggle")
    if await button.is_visible() and await button.get_attribute("aria-expanded") == "false":
        await button.click()
