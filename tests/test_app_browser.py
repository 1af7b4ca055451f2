"""The page in headless Chromium (Debian's chromium driven by playwright): `python app.py` runs
as a real subprocess with SmolLM2-135M, the tiny store and a temp log; the test asks a question,
edits and re-runs the query, marks it, saves a correction and finds it in the log database.
A screenshot goes to tests/artifacts/ (ignored by git).

Chromium comes from `make browser` (apt-get install chromium); when it is missing the test tries
that install itself and is skipped, saying why, only when it cannot be installed.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from assistant.config import Settings
from assistant.page import DONE
from assistant.registry import fetch, load_registry

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
CDK2_QUERY = "/v3/query?q=symbol:CDK2&species=human&fields=entrezgene"
DONE_RE = re.compile("|".join(re.escape(s) for s in DONE.values()))
LONG = 240_000  # ms: a generation on a busy 2-core machine can take a while


def chromium_path() -> str:
    """Debian's chromium, installed with apt-get when missing (as root, or with sudo -n)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if shutil.which("apt-get"):
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            try:
                subprocess.run(sudo + cmd, env=env, check=True, timeout=900, capture_output=True)
            except (OSError, subprocess.SubprocessError) as exc:
                pytest.skip(f"chromium is not installed and `{' '.join(cmd)}` failed ({exc})")
        found = shutil.which("chromium")
    if not found:
        pytest.skip("chromium is not installed and apt-get is not available (run `make browser`)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_path()


@pytest.fixture(scope="module")
def server(tiny_store_path, tmp_path_factory):
    """`python app.py` on a free port; yields (url, interaction db path)."""
    folder = tmp_path_factory.mktemp("app")
    settings = Settings(model="smollm2-135m")
    fetch(load_registry().get("smollm2-135m"), settings, echo=lambda s: None)
    port = free_port()
    db = folder / "interactions.sqlite"
    env = {
        **os.environ,
        "QA_RETRY_INVALID": "false",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    cmd = [sys.executable, "app.py", "--port", str(port), "--model", "smollm2-135m"]
    cmd += ["--mode", "ft", "--store-path", str(tiny_store_path), "--query-max-tokens", "32"]
    cmd += ["--index-dir", str(folder / "index"), "--interaction-db", str(db)]
    cmd += ["--access-log", str(folder / "access.jsonl")]
    log = open(folder / "app.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 240
    try:
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"app.py exited: {(folder / 'app.log').read_text()[-3000:]}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"app.py did not start: {(folder / 'app.log').read_text()}")
            time.sleep(0.5)
        yield url, db
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(server[0])
    yield page
    context.close()


def textbox(page, elem_id: str):
    return page.locator(f"#{elem_id}").get_by_role("textbox")


def test_ask_edit_rerun_mark_and_correct(page, server):
    from playwright.sync_api import expect

    _, db = server
    page.get_by_text("Where is human BRCA1 located?", exact=True).click()  # an example
    question = textbox(page, "question")
    expect(question).to_have_value("Where is human BRCA1 located?")
    page.locator("#ask").click()
    status = page.locator("#status")
    expect(status).to_contain_text(DONE_RE, timeout=LONG)
    generated = textbox(page, "query").input_value()
    assert generated.strip()  # the query the model wrote (grammar: always a query line)
    assert page.locator("#answer").inner_text().strip()
    expect(page.locator("#chat")).to_contain_text("Where is human BRCA1 located?")

    textbox(page, "query").fill(CDK2_QUERY)
    page.locator("#rerun").click()
    expect(status).to_contain_text("1 hit", timeout=LONG)
    results = page.locator("#results")
    expect(results).to_contain_text("entrezgene")
    expect(results).to_contain_text("1017")
    expect(page.locator("#answer")).to_contain_text("1017")
    expect(page.locator("#total").get_by_role("spinbutton")).to_have_value("1")
    href = page.locator("#link a").get_attribute("href")
    assert href.startswith("https://mygene.info/v3/query?q=symbol%3ACDK2")
    page.get_by_text("Raw JSON").click()
    expect(page.locator("#raw")).to_contain_text("1017")

    page.locator("#mark-right").click()
    expect(page.locator("#feedback")).to_contain_text("as right")
    page.locator("#save-correction").click()
    expect(page.locator("#feedback")).to_contain_text("Saved")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_browser.png"), full_page=True)

    con = sqlite3.connect(db)
    try:
        corrections = con.execute("SELECT question, query, generated FROM corrections").fetchall()
        verdicts = con.execute("SELECT verdict FROM verdicts").fetchall()
        kinds = [r[0] for r in con.execute("SELECT kind FROM interactions ORDER BY id")]
    finally:
        con.close()
    assert ("Where is human BRCA1 located?", CDK2_QUERY, generated.strip()) in [
        (q, c, (g or "").strip()) for q, c, g in corrections
    ]
    assert ("right",) in verdicts and kinds[-2:] == ["ask", "rerun"]


def test_empty_question_gets_a_message(page):
    from playwright.sync_api import expect

    page.locator("#ask").click()
    expect(page.locator("#status")).to_contain_text("Not asked", timeout=LONG)
    expect(page.locator("#answer")).to_contain_text("Empty question")
    expect(page.locator("body")).not_to_contain_text("Traceback")


def test_waiting_people_see_their_queue_position(browser, server):
    contexts = [browser.new_context() for _ in range(3)]
    pages = [c.new_page() for c in contexts]
    questions = ["Where is human BRCA1?", "What is the Entrez id of CDK2?", "What is MYC?"]
    try:
        for page, question in zip(pages, questions, strict=True):
            page.goto(server[0])
            textbox(page, "question").fill(question)
        for page in pages:
            page.locator("#ask").click()
        seen, deadline = set(), time.monotonic() + LONG / 1000
        while time.monotonic() < deadline:
            texts = [p.locator("#status").inner_text() for p in pages]
            seen |= {t.strip() for t in texts if t.strip().startswith("queue:")}
            if all(DONE_RE.search(t) for t in texts):
                break
            time.sleep(0.05)
        assert all(DONE_RE.search(p.locator("#status").inner_text()) for p in pages)
        assert any(re.match(r"queue: [12]/\d", t) for t in seen), seen
    finally:
        for c in contexts:
            c.close()
