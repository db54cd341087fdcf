"""A dossier's Comptabilité in Chromium, at 1440 and 390 px: the entries and the balances of a real FEC file, their
amounts right-aligned in tabular figures (headers too), the balance's total row equal to the file's sums, the
pages by number and size; the page never scrolls sideways, the tables scroll inside their box."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.auth.roles import FirmRole
from portal.clients.models import Dossier
from portal.ledger.files import ImportFiles
from portal.ledger.importer import run_import
from portal.ledger.models import ImportStatus, LedgerSource
from portal.ledger.services import LedgerService
from portal.settings import Settings
from tests.balances import Totals, euros, fec_balance
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, make_user
from tests.samples import FEC_SAMPLES
from tests.stories.console import watch_errors

pytestmark = pytest.mark.browser

NEOLEGAL = FEC_SAMPLES / "neolegal-fec-reader" / "0000000001FEC20220831.txt"
PARTNER = "claire.durand@cabinet-tables.fr"


async def _seed(committed: async_sessionmaker[AsyncSession], settings: Settings) -> Dossier:
    async with committed() as session, session.begin():
        dossier = await make_dossier(session, name="Négoce Neolegal", closing_day=31, closing_month=8)
        await make_user(session, roles=(FirmRole.PARTNER,), email=PARTNER, name="Claire Durand")
    files = ImportFiles(settings.imports_dir, max_bytes=settings.fec_max_bytes)
    with NEOLEGAL.open("rb") as handle:
        storage_name, size = files.save(handle)
    async with committed() as session, session.begin():
        record = await LedgerService(session).request_import(
            None, dossier, source=LedgerSource.COMMAND, filename=NEOLEGAL.name, storage_name=storage_name,
            size_bytes=size, enqueue_job=False,
        )  # fmt: skip
    outcome = await run_import(committed, settings.imports_dir, record.id)
    assert outcome.status is ImportStatus.SUCCEEDED, outcome.report
    return dossier


async def _amounts_right_aligned(page: Page, table: str) -> int:
    """Every amount cell and amount header of ``table`` right-aligned in tabular figures, their right edges in
    line column by column; the number of amount cells checked."""
    cells = await page.evaluate(
        """(selector) => [...document.querySelectorAll(selector + ' td.num, ' + selector + ' th.num')].map(cell => {
            const style = getComputedStyle(cell), box = cell.getBoundingClientRect();
            const range = document.createRange(); range.selectNodeContents(cell);
            const text = range.getBoundingClientRect();
            return {align: style.textAlign, figures: style.fontVariantNumeric, column: cell.cellIndex,
                    gap: text.width ? Math.round(box.right - parseFloat(style.paddingRight) - text.right) : 0,
                    empty: !cell.textContent.trim()};
        })""",
        table,
    )
    assert cells, f"no amount cell in {table}"
    assert {(cell["align"], cell["figures"]) for cell in cells} == {("right", "tabular-nums")}
    # The text ends where the cell's content box ends: right-aligned in fact, not only in the style sheet.
    assert {cell["gap"] for cell in cells if not cell["empty"]} <= {-1, 0, 1}
    return len(cells)


async def _fits(page: Page) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("width", [1440, 390])
async def test_a_partner_reads_the_entries_and_balances_of_a_real_file(  # noqa: PLR0917 - pytest fixtures
    live_url: str,
    browser: Browser,
    committed: async_sessionmaker[AsyncSession],
    settings: Settings,
    width: int,
    tmp_path: Path,
) -> None:
    dossier = await _seed(committed, settings)
    content = NEOLEGAL.read_text(encoding="utf-8-sig")
    context = await browser.new_context(viewport={"width": width, "height": 900 if width > 400 else 844})
    page = await context.new_page()
    errors = watch_errors(page)
    await page.goto(f"{live_url}/connexion")
    await page.get_by_label("Adresse e-mail").fill(PARTNER)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page).to_have_url(f"{live_url}/")

    await page.goto(f"{live_url}/entreprises/{dossier.id}/comptabilite")
    await expect(page.locator(".result-count")).to_have_text("2\u202f033 écritures")
    assert await _amounts_right_aligned(page, "#ecritures") > 50
    await _fits(page)
    await expect(page.locator(".pager-range")).to_have_text("1–50 sur 2\u202f033")
    await page.get_by_role("navigation", name="Pagination").get_by_role("link", name="2", exact=True).click()
    await expect(page.locator(".pager [aria-current=page]")).to_have_text("2")
    await expect(page.locator(".pager-range")).to_have_text("51–100 sur 2\u202f033")
    await page.get_by_role("navigation", name="Pagination").get_by_role("link", name="100", exact=True).click()
    await expect(page.locator(".pager-range")).to_have_text("1–100 sur 2\u202f033")
    await page.screenshot(path=tmp_path / f"ecritures-{width}.png")

    await page.get_by_role("navigation", name="Vues").get_by_role("link", name="Balance générale").click()
    await expect(page.locator("#balance tfoot")).to_be_visible()
    assert await _amounts_right_aligned(page, "#balance") > 100
    await _fits(page)
    cells = page.locator("#balance tfoot td")
    shown = Totals(*[euros(text) for text in await cells.all_inner_texts()])
    assert shown == fec_balance(content).totals
    if width < 400:  # wider than the phone: it scrolls inside its own box
        assert await page.evaluate("(() => { const w = document.querySelector('#balance').parentElement;"
                                   " return w.scrollWidth > w.clientWidth; })()")  # fmt: skip
    await page.screenshot(path=tmp_path / f"balance-{width}.png", full_page=True)

    await page.get_by_role("navigation", name="Vues").get_by_role("link", name="Balance auxiliaire").click()
    await expect(page.locator("#balance-auxiliaire tfoot")).to_be_visible()
    assert await _amounts_right_aligned(page, "#balance-auxiliaire") > 20
    shown = Totals(*[euros(text) for text in await page.locator("#balance-auxiliaire tfoot td").all_inner_texts()])
    assert shown == fec_balance(content, auxiliary=True).totals
    await _fits(page)
    assert errors == []
    await context.close()
