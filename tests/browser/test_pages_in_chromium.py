"""What a person sees and can do, in a real Chromium, for a link of each verdict."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import ARTIFACTS, Served

Page = Any  # playwright.sync_api.Page, loaded lazily by the fixture
# Plain http to a site other than the one the text shows: a warning, not more.
WARN_TEXT = "www.wikipedia.org"


def no_csp_errors(page: Page) -> None:
    blocked = [p for p in page.problems if "Content Security Policy" in p]
    assert not blocked, blocked


def test_allowed_link_lands_on_the_destination_without_referrer(
        served: Served, page: Page) -> None:
    destination = served.site_url("docs.allowed-site.org", "/guide?x=1")
    page.goto(served.link(destination))
    assert page.locator("#landed").inner_text() == (
        "Landed on docs.allowed-site.org/guide?x=1")
    assert page.locator("#referer").inner_text() == "no referer"


def test_warning_shows_the_real_site_and_continues_on_a_click(
        served: Served, page: Page) -> None:
    destination = served.site_url("example.com", "/start")
    page.goto(served.link(destination, display_text=WARN_TEXT))
    assert page.locator("h1").inner_text() == "Check this link before you open it"
    assert page.locator("mark.domain").inner_text() == "example.com"
    assert "different site" in page.locator(".reasons").inner_text()
    no_csp_errors(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "warning-page.png"), full_page=True)
    page.click("#continue")
    page.wait_for_selector("#landed")
    assert page.locator("#landed").inner_text().startswith("Landed on example.com")
    assert page.locator("#referer").inner_text() == "no referer"


def test_go_back_returns_to_where_the_click_came_from(served: Served, page: Page) -> None:
    warned = served.link(served.site_url("example.com", "/x"), display_text=WARN_TEXT)
    served.site.next_link = warned  # type: ignore[attr-defined]
    page.goto(served.site_url("mail.corp.test", "/inbox"))
    page.click("#out")
    page.wait_for_selector("#go-back")
    page.click("#go-back")  # our script (allowed by the CSP) goes back in history
    page.wait_for_selector("#landed")
    assert "/inbox" in page.locator("#landed").inner_text()
    no_csp_errors(page)


def test_go_back_without_history_says_nothing_was_opened(served: Served, page: Page) -> None:
    page.goto(served.link(served.site_url("example.com", "/y"), display_text=WARN_TEXT))
    page.click("#go-back")
    page.wait_for_selector("text=The link was not opened")


def test_keyboard_reaches_both_choices(served: Served, page: Page) -> None:
    page.goto(served.link(served.site_url("example.com", "/k"), display_text=WARN_TEXT))
    focused = []
    for _ in range(6):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.id"))
    assert "go-back" in focused
    assert "continue" in focused
    page.focus("#continue")
    page.keyboard.press("Enter")
    page.wait_for_selector("#landed")


def test_confirm_asks_for_sign_in_and_offers_no_way_through(served: Served, page: Page) -> None:
    response = page.goto(served.link("http://paypa1-login.com/verify/account"))
    assert response.status == 200
    assert page.locator("h1").inner_text() == "This link needs your confirmation"
    assert page.locator("#continue").count() == 0
    assert page.locator("form").count() == 0
    assert page.locator("#no-sign-in").is_visible()


def test_block_page_has_no_way_through(served: Served, page: Page) -> None:
    response = page.goto(served.link("https://evil.blocked-site.net/login"))
    assert response.status == 403
    assert page.locator("h1").inner_text() == "This link has been blocked"
    assert page.locator("mark.domain").inner_text() == "blocked-site.net"
    assert page.locator("form").count() == 0
    hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.href)")
    assert not [h for h in hrefs if "blocked-site.net" in h]
    no_csp_errors(page)


def test_damaged_link_gets_a_friendly_page(served: Served, page: Page) -> None:
    link = served.link(served.site_url("example.com"))
    response = page.goto(link[:-6])
    assert response.status == 400
    assert page.locator("h1").inner_text() == "This link cannot be opened"


def test_long_hostile_destination_fits_a_phone_screen(served: Served, page: Page) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    hostile = ("https://evil.blocked-site.net/<script>alert(1)</script>/\u202egnp.exe?"
               + "q=" + "A" * 3000)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(served.link(hostile, display_text='"><script>alert(2)</script>'))
    assert not dialogs
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert page.locator("#go-back").is_visible()
    no_csp_errors(page)
