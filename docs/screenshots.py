"""`make screenshots`: the README's screenshots, taken from a real server.

Starts `npsbot serve` (the web app and the dispatcher in one process, as `make run` does) on a
temporary SQLite database with an owner account, plays the sandbox in Debian's Chromium
(Playwright): a purchase, a detractor's answer, the staff chat's card, Take, a reply the phone
gets, the customer's answer. Then it visits the dashboard's pages. PNGs go to docs/screenshots/,
1200 px wide at most, squeezed by pngquant and optipng when they are installed
(`apt-get install pngquant optipng`).

To add a page: one `Shot` in PAGES (a page that does not answer 200 yet is skipped, and said).
Not part of `make test`: it takes a while and rewrites files in the repository.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NPSBOT = Path(sys.executable).with_name("npsbot")
WIDTH = 1200  # px: the widest a README image needs
USER, PASSWORD = "owner", "screenshots only, not a secret"
ZONE = "America/Mexico_City"


@dataclass(frozen=True)
class Played:
    """What the sandbox play left behind, for the pages that show it."""

    address: str
    case_id: int


@dataclass(frozen=True)
class Shot:
    name: str  # the file under docs/screenshots/
    path: Callable[[Played], str]  # the page to show
    height: int = 900  # the window's height; full_page shows all of it anyway
    full_page: bool = True


# The dashboard's pages (logged in as an owner), each only once it exists (it answers 200).
PAGES = (
    Shot("case.png", lambda p: f"/dashboard/cases/{p.case_id}"),
    Shot("survey-editor.png", lambda p: "/dashboard/surveys/post-purchase"),
    Shot("touchpoint-card.png", lambda p: "/dashboard/touchpoints/store-centro/card"),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def npsbot(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(NPSBOT), *args], env=env, check=True, stdout=subprocess.DEVNULL)


@contextmanager
def server() -> Iterator[str]:
    """`npsbot serve` on a fresh database in a temporary folder; its base URL."""
    with tempfile.TemporaryDirectory(prefix="npsbot-shots-") as tmp:
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/npsbot.db",
            "SECRET_KEY": "screenshots-" + os.urandom(8).hex(),
            "BUSINESS_NAME": "Tienda Ejemplo",
            "SANDBOX_ENABLED": "true",
            "SCHEDULER_ENABLED": "true",
            "PORT": str(port),
            # WhatsApp's number for the touchpoint card's link (nothing is sent to it here).
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": "screenshots-only",
            "TWILIO_WHATSAPP_FROM": "+14155238886",
            "TWILIO_API_URL": "http://127.0.0.1:9",
        }
        npsbot(env, "db", "upgrade")
        npsbot(env, "user", "create", USER, "--role", "owner", "--password", PASSWORD)
        tp = ("store-centro", "--survey", "post-purchase", "--meta", "store=Centro")
        npsbot(env, "touchpoints", "create", *tp)
        log = open(Path(tmp) / "serve.log", "w")  # noqa: SIM115 - closed below
        proc = subprocess.Popen([str(NPSBOT), "serve"], env=env, cwd=tmp, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{base}/healthz", proc)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            log.close()


def wait_for(url: str, proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.exit(f"screenshots: npsbot serve stopped (exit code {proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"screenshots: {url} did not answer within {seconds:.0f} s")


def play_sandbox(page: Page, base: str) -> Played:
    """The whole loop, as a newcomer plays it; the page is left showing it."""
    page.goto(f"{base}/sandbox")
    page.fill("#name", "Ana")
    page.click("button.primary")
    page.wait_for_selector("#who:has-text('sandbox-')")
    page.click("#chat .keys button:text-is('3')", timeout=15_000)
    page.wait_for_selector("#chat .out:has-text('¿Qué')")
    page.fill("#text", "El pedido llegó tarde y frío")
    page.click("#sendbtn")
    page.wait_for_selector("#staffcard:has-text('Detractor 3/10')", timeout=15_000)
    page.click("#staffcard button:has-text('Take it')")
    page.wait_for_selector("#staffcard:has-text('Taken by')")
    page.fill("#stafftext", "Lo sentimos, Ana. ¿Te llamamos para reponer tu pedido?")
    page.click("#staffbtn")
    page.wait_for_selector("#chat .out:has-text('¿Te llamamos')", timeout=15_000)
    page.fill("#text", "Sí, por favor, después de las 5")
    page.click("#sendbtn")
    page.wait_for_selector("#staffchat .custmsg:has-text('después de las 5')")
    page.wait_for_timeout(500)  # the last polls settle
    address = page.inner_text("#who").strip()
    case_id = page.evaluate("caseId")
    return Played(address, int(case_id))


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/dashboard/login")
    page.fill("#username", USER)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(f"{base}/dashboard**")


def squeeze(path: Path) -> None:
    """Smaller PNG files, with whichever optimisers are installed."""
    if shutil.which("pngquant"):
        subprocess.run(
            ["pngquant", "--quality=70-95", "--skip-if-larger", "--force", "--output", path, path],
            check=False,
        )
    if shutil.which("optipng"):
        subprocess.run(["optipng", "-quiet", "-o2", path], check=True)


def save(page: Page, name: str, *, full_page: bool) -> None:
    path = OUT / name
    page.screenshot(path=path, full_page=full_page)
    squeeze(path)
    print(f"screenshots: {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KB)")


def main() -> None:
    if not NPSBOT.exists():
        sys.exit(f"screenshots: no {NPSBOT}: run `make .venv/.installed` first")
    if not Path(CHROMIUM).exists():
        sys.exit(f"screenshots: no Chromium at {CHROMIUM}: run `make browser-deps`")
    OUT.mkdir(parents=True, exist_ok=True)
    with server() as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(
                viewport={"width": WIDTH, "height": 720}, locale="en-US", timezone_id=ZONE
            )
            page = context.new_page()
            played = play_sandbox(page, base)
            save(page, "sandbox.png", full_page=False)
            log_in(page, base)
            for shot in PAGES:
                page.set_viewport_size({"width": WIDTH, "height": shot.height})
                answer = page.goto(base + shot.path(played))
                if answer is None or answer.status != 200:
                    status = answer.status if answer else "no answer"
                    print(f"screenshots: {shot.name} skipped ({shot.path(played)}: {status})")
                    continue
                save(page, shot.name, full_page=shot.full_page)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
