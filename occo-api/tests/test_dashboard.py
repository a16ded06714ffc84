"""The dashboard at /ui/ in a real browser: Debian's chromium driven by Playwright (issue
21), against the REST service in this process on 127.0.0.1 (dummy cloud in memory, or
the local cloud for the heal). Screenshots of each step go to ``$OCCO_SCREENSHOTS`` (the
docs' pictures are made so) or to the test's temporary directory."""

from __future__ import annotations

import json
import os
import shutil
import signal
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from rest_support import DESCRIPTION, Client, Setup, built

from occo.api.config import load_config
from occo.api.rest import RestService
from occo.api.rest_state import import_definitions
from occo.util.testing import free_port, wait_until

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("the browser tests need Debian's chromium (apt-get install chromium; "
                    "`./bootstrap.sh test` installs it when it runs as root)")
    with playwright_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def shots(tmp_path):
    where = Path(os.environ.get("OCCO_SCREENSHOTS") or tmp_path / "screenshots")
    where.mkdir(parents=True, exist_ok=True)
    return where


class Service:
    """``occo serve`` in this process on a fixed loopback port (so a restart keeps the
    page's origin), with the node definitions imported."""

    def __init__(self, setup: Setup, port: int) -> None:
        self.setup, self.port = setup, port
        self.start()

    def start(self) -> None:
        self.rest = RestService(load_config(self.setup.config_file), port=self.port)
        import_definitions(self.rest.occo, [self.setup.root / "nodes.yaml"])
        self.rest.start()
        self.client = Client(self.port, self.rest.token)

    def stop(self) -> None:
        self.client.close()
        self.rest.stop()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def build(self, text: str = DESCRIPTION) -> str:
        status, body, _ = self.client.post("/infrastructures/", text)
        assert status == 202, body
        return body["infraid"]


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    s = Setup(tmp_path)
    s.write()
    return s


@pytest.fixture
def service(setup):
    running = Service(setup, free_port())
    yield running
    running.stop()


def log_in(browser, service, shots=None):
    """A new browser context logged in; every URL it requests is recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.requested = []
    page.on("request", lambda r: page.requested.append(r.url))
    page.goto(f"{service.base}/ui/")
    assert page.url == f"{service.base}/ui/login"
    page.fill("#token", service.rest.token)
    if shots:
        page.screenshot(path=str(shots / "login.png"))
    page.click("button[type=submit]")
    page.wait_for_url(f"{service.base}/ui/")
    return context, page


def until(page, expression, timeout=30_000):
    """Wait until the JavaScript ``expression`` is true in the page (as a function: the
    page's CSP allows no eval)."""
    try:
        page.wait_for_function(f"() => ({expression})", timeout=timeout)
    except playwright_api.TimeoutError:
        raise AssertionError(f"not true in the page within {timeout / 1000:g} s: "
                             f"{expression}\npage text: {page.inner_text('body')[:2000]}") from None


def text_of(page, selector):
    return page.locator(selector).inner_text()


def only_local(page, service):
    outside = [u for u in page.requested if not u.startswith(service.base + "/")]
    assert outside == [], outside


# ---------------------------------------------------------------------- access

def raw(method, url, headers=None, data=None):
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_nothing_is_served_without_a_session_but_the_login_page(service):
    infra_id = service.build()
    for path in ("/ui/", f"/ui/infra/{infra_id}"):
        status, headers, _ = raw("GET", service.base + path)
        assert status == 303 and headers["Location"].endswith("/ui/login"), path
    for path in ("/ui/assets/app.js", "/ui/assets/app.css", f"/ui/api/infra/{infra_id}",
                 f"/ui/api/infra/{infra_id}/events", "/ui/assets/nothing", "/ui/elsewhere"):
        status, _, body = raw("GET", service.base + path)
        assert status == 401, (path, status, body)
    status, headers, body = raw("GET", service.base + "/ui/login")
    assert status == 200 and b'name="token"' in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert raw("GET", service.base + "/ui/login.css")[0] == 200
    # a forged cookie is no session
    status, _, _ = raw("GET", service.base + "/ui/assets/app.js",
                       {"Cookie": "occo_session=abc.123.def"})
    assert status == 401


def test_a_wrong_token_is_refused_and_a_write_needs_the_csrf_token(service, browser):
    infra_id = service.build()
    wait_until(lambda: built(service.client, infra_id), what="built")
    status, _, body = raw("POST", service.base + "/ui/login",
                          {"Content-Type": "application/x-www-form-urlencoded"},
                          b"token=not-the-token-at-all")
    assert status == 401 and b"not the service&#x27;s token" in body
    context, page = log_in(browser, service)
    [cookie] = [c for c in context.cookies() if c["name"] == "occo_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    jar = {"Cookie": f"occo_session={cookie['value']}"}
    path = f"/infrastructures/{infra_id}/scaleto/app/2"
    status, _, body = raw("POST", service.base + path, jar)
    assert status == 403 and b"X-CSRF-Token" in body
    assert service.client.get(f"/infrastructures/{infra_id}?format=occo")[1]["nodes"][1][
        "scaling"]["target"] == 1                                  # nothing was queued
    csrf = page.locator('meta[name="occo-csrf"]').get_attribute("content")
    status, _, body = raw("POST", service.base + path, {**jar, "X-CSRF-Token": csrf})
    assert status == 202, body
    status, _, _ = raw("POST", service.base + path, {**jar, "X-CSRF-Token": csrf[:-1] + "x"})
    assert status == 403
    # reading with the session needs no CSRF token
    assert raw("GET", service.base + "/infrastructures/", jar)[0] == 200
    page.click("#logout button")
    page.wait_for_url(f"{service.base}/ui/login")
    assert raw("GET", service.base + "/infrastructures/", jar)[0] == 401
    context.close()


# ---------------------------------------------------------------------- pages

THIRTY = """\
infra_name: thirty
nodes:
  - &DB {name: db, type: db_t}
  - &APP {name: app, type: app_t, scaling: {min: 28, max: 40}}
  - &LB {name: lb, type: app_t}
dependencies:
  - [*APP, *DB]
  - [*LB, *APP]
"""


def test_watch_a_30_node_build_scale_drop_and_destroy_from_the_page(service, browser, shots):
    context, page = log_in(browser, service, shots)
    infra_id = service.build(THIRTY)
    page.goto(f"{service.base}/ui/")
    page.wait_for_selector("#infrastructures a")
    assert "thirty" in text_of(page, "#infrastructures")
    # ready of wanted (the sum of the scaling targets), and the newest event of its log
    until(page, "/\\d+\\/30/.test(document.querySelector('#infrastructures tbody tr')"
                "?.children[3].textContent)")
    newest = service.client.get("/infrastructures/")[1]["items"][0]["last_event"]
    assert newest["type"] and newest["position"] >= 1
    assert page.locator("#infrastructures td.last-event").first.text_content().strip() not in (
        "", "-")
    page.screenshot(path=str(shots / "list.png"))
    page.click("text=thirty")
    page.wait_for_url(f"{service.base}/ui/infra/{infra_id}")
    until(page, "document.querySelector('[data-node=\"app\"] .counts')"
                           "?.textContent.startsWith('28/28 ready')", timeout=60_000)
    until(page, "document.querySelector('[data-node=\"lb\"] .counts')"
                           "?.textContent.startsWith('1/1 ready')", timeout=60_000)
    page.screenshot(path=str(shots / "infrastructure.png"), full_page=True)
    assert page.locator("#instances tbody tr").count() == 30
    assert page.locator("#events li[data-type='node.ready']").count() >= 1

    # scale app from the page: the new instances appear
    page.fill('form.scale[data-node="app"] input', "31")
    page.click('form.scale[data-node="app"] button')
    until(page, "document.querySelector('[data-node=\"app\"] .counts')"
                           "?.textContent.startsWith('31/31 ready')", timeout=60_000)
    assert "app: scaling to 31" in text_of(page, "#notice")
    # beyond max: clamped, and the page says so
    page.fill('form.scale[data-node="app"] input', "99")
    page.click('form.scale[data-node="app"] button')
    until(page, "document.getElementById('notice').textContent.includes('clamped')")
    assert "clamped to 40" in text_of(page, "#notice")
    page.fill('form.scale[data-node="app"] input', "31")
    page.click('form.scale[data-node="app"] button')
    until(page, "document.querySelector('[data-node=\"app\"] .counts')"
                           "?.textContent.startsWith('31/31')", timeout=60_000)

    # drop one instance: it goes, and the node is brought back to its count
    row = page.locator("#instances tbody tr").filter(has_text="app").first
    dropped = row.get_attribute("data-instance")
    row.locator("button").click()
    until(page, f"!document.querySelector('[data-instance=\"{dropped}\"]')",
                           timeout=60_000)
    page.screenshot(path=str(shots / "scaled.png"), full_page=True)

    # maintenance off and on
    page.click("#maintain")
    until(page, "document.getElementById('notice').textContent.includes("
                           "'no longer maintained')")
    until(page, "document.getElementById('maintain').textContent === 'Maintain'")
    page.click("#maintain")
    until(page, "document.getElementById('notice').textContent.includes("
                           "'maintained: healed')")

    # destroy, after the confirmation
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#destroy")
    wait_until(lambda: service.client.get("/infrastructures/")[1]["infrastructures"] == [],
             timeout=60, what="destroyed")
    only_local(page, service)
    context.close()


def test_the_page_is_readable_at_a_phone_width(service, browser, shots):
    infra_id = service.build()
    wait_until(lambda: built(service.client, infra_id), what="built")
    context, page = log_in(browser, service)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{service.base}/ui/infra/{infra_id}")
    page.wait_for_selector("#instances tbody tr")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, width                                 # no sideways scrolling
    # keyboard: the scale form is reachable and usable with Tab and Enter
    page.focus('form.scale[data-node="app"] input')
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.keyboard.press("Enter")
    until(page, "document.getElementById('notice').textContent.includes("
                           "'app: scaling to 2')")
    page.screenshot(path=str(shots / "phone.png"), full_page=True)
    context.close()


def test_what_a_user_is_typing_or_pressing_survives_the_live_re_renders(service, browser):
    """The page re-renders on every event and every 5 s; an element it took out of the
    document would lose the focus (and with it the keys typed next): the scale field and a
    Drop button keep it across re-renders while the infrastructure changes."""
    infra_id = service.build(THIRTY)
    context, page = log_in(browser, service)
    page.goto(f"{service.base}/ui/infra/{infra_id}")
    field = 'form.scale[data-node="app"] input'
    page.wait_for_selector(field)
    page.focus(field)
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    renders = int(page.evaluate("document.body.dataset.renders"))
    # the build goes on: its events re-render the page several times
    until(page, f"Number(document.body.dataset.renders) >= {renders + 3}", timeout=60_000)
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == \
        "instances of app"
    page.keyboard.type("5")                       # the next key lands in the same field
    assert page.input_value(field) == "35"
    wait_until(lambda: built(service.client, infra_id), timeout=60, what="built")
    button = page.locator("#instances tbody tr").filter(has_text="app").first.locator("button")
    button.focus()
    renders = int(page.evaluate("document.body.dataset.renders"))
    # the page's own 5-second refresh re-renders it
    until(page, f"Number(document.body.dataset.renders) >= {renders + 2}", timeout=30_000)
    assert page.evaluate("document.activeElement.textContent") == "Drop"
    page.keyboard.press("Enter")                  # the key still acts on that button
    until(page, "document.getElementById('notice').textContent.includes('app: dropping')")
    context.close()


def test_the_event_stream_resumes_after_the_service_restarts(setup, browser):
    setup.write(dummy_store=None)   # the dummy cloud in a file: it outlives the restart
    service = Service(setup, free_port())
    try:
        resumed(service, browser)
    finally:
        service.stop()


def resumed(service, browser):
    infra_id = service.build()
    wait_until(lambda: built(service.client, infra_id), what="built")
    context, page = log_in(browser, service)
    page.goto(f"{service.base}/ui/infra/{infra_id}")
    until(page, "document.body.dataset.stream === 'open'")
    until(page, "Number(document.body.dataset.lastEvent || 0) > 0")
    seen = page.locator("#events li").count()
    last = int(page.evaluate("document.body.dataset.lastEvent"))
    service.stop()
    until(page, "document.body.dataset.stream === 'reconnecting'", timeout=30_000)
    service.start()
    status, _, _ = service.client.post(f"/infrastructures/{infra_id}/scaleto/app/2")
    assert status == 202
    until(page, f"Number(document.body.dataset.lastEvent) > {last}",
                           timeout=60_000)
    positions = [int(p) for p in page.locator("#events li").evaluate_all(
        "items => items.map(i => i.dataset.position)")]
    assert len(positions) > seen
    assert positions == sorted(set(positions))            # nothing twice, nothing reordered
    until(page, "document.querySelector('[data-node=\"app\"] .counts')"
                           "?.textContent.startsWith('2/2 ready')", timeout=60_000)
    context.close()


def test_a_killed_local_node_goes_failed_and_is_replaced_live(tmp_path, monkeypatch, browser,
                                                               shots):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    setup = Setup(tmp_path)
    local_root = tmp_path / "local"
    setup.write(clouds={"local": {"root": str(local_root), "grace_period": 1}})
    (setup.root / "nodes.yaml").write_text(yaml.safe_dump({"node_def:sleeper": [{
        "resource": {"type": "local", "command": "exec sleep 600"},
        "health_check": {"ping": False}}]}))
    service = Service(setup, free_port())
    try:
        infra_id = service.build("infra_name: heal\nnodes:\n"
                                 "  - {name: worker, type: sleeper, scaling: {min: 2}}\n")
        wait_until(lambda: built(service.client, infra_id), timeout=60, what="built")
        context, page = log_in(browser, service)
        page.goto(f"{service.base}/ui/infra/{infra_id}")
        until(page, "document.body.dataset.stream === 'open'")
        victim = page.locator("#instances tbody tr").first.get_attribute("data-instance")
        child = json.loads((local_root / infra_id / victim / "child.json").read_text())
        os.kill(child["pid"], signal.SIGKILL)
        page.wait_for_selector("#events li[data-type='node.failed']", timeout=60_000)
        until(page, f"!document.querySelector('[data-instance=\"{victim}\"]')"
                               " && document.querySelector('[data-node=\"worker\"] .counts')"
                               "?.textContent.startsWith('2/2 ready')", timeout=60_000)
        # the survivor's last health result: what a maintenance pass found, and when
        until(page, "[...document.querySelectorAll('#instances td.health')].some("
                    "(td) => /^healthy \\(\\d+ s ago\\)$/.test(td.textContent))",
              timeout=30_000)
        page.screenshot(path=str(shots / "healed.png"), full_page=True)
        assert "worker" in text_of(page, "#events li[data-type='node.failed']")
        only_local(page, service)
        context.close()
        status, _, _ = service.client.request("DELETE", f"/infrastructures/{infra_id}")
        assert status == 202
        wait_until(lambda: service.client.get("/infrastructures/")[1]["infrastructures"] == [],
                 timeout=60, what="destroyed")
    finally:
        service.stop()
