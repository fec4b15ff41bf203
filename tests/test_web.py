"""The web page in a real browser (Debian's Chromium driven by Playwright) against a real server:
frames drawn, controls that steer and follow, presets from the schema, likes, text, notes, keys."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PATCHES, Server, start_server
from tests.livetools import send
from tests.webtools import (
    CANVAS_SAMPLE,
    canvas_sample,
    launch,
    needs_chromium,
    open_page,
    patch_in,
    poll,
    screenshot,
    serving,
    stats,
    wait_stats,
)

pytestmark = needs_chromium

# The stage patch (all three voices, untrained) with two presets and its state in a temp folder.
PRESETS = """
[presets.calm]
"/visual/speed" = 0.5
"/visual/mode" = "walk"

[presets.wild.visual]
speed = 6.0
mode = "loop"
"""


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    folder = tmp_path_factory.mktemp("stage")
    for srv in serving(patch=patch_in(folder, PATCHES / "stage.toml", PRESETS)):
        yield srv, folder / "state"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch()


@pytest.fixture
def server(stage: tuple[Server, Path]) -> Server:
    return stage[0]


def control(page: Any, path: str, kind: str) -> Any:
    return page.locator(f".control[data-path='{path}'] input[type={kind}]")


def test_page_draws_frames_that_change(server: Server, browser: Any, tmp_path: Path) -> None:
    page, console = open_page(browser, server.http + "/")
    wait_stats(page, "s.drawn >= 5")
    first = canvas_sample(page)
    assert first["spread"] > 10  # a picture, not a blank canvas
    page.wait_for_timeout(1000)
    assert canvas_sample(page)["sum"] != first["sum"]  # and a moving one
    s = stats(page)
    assert s["received"] >= s["drawn"] >= 5
    page.wait_for_function("document.getElementById('fps').textContent.includes('drawn fps')")
    screenshot(page, tmp_path, "web-page.png")
    assert console.real() == []
    page.close()


def test_slider_steers_and_follows_and_shows_refusals(server: Server, browser: Any) -> None:
    page, console = open_page(browser, server.http + "/")
    slider = control(page, "/visual/speed", "range")
    slider.evaluate("(el) => { el.value = 6.4; el.dispatchEvent(new Event('input')); }")
    assert poll(lambda: server.param("/visual/speed"), lambda v: v == 6.4) == 6.4
    # A change from elsewhere (OSC from a test sender) moves the slider and its number.
    send(server, "/visual/speed", 2.5)
    page.wait_for_function("document.querySelector(\".control[data-path='/visual/speed'] "
                           "input[type=range]\").value === '2.5'", timeout=10000)
    assert control(page, "/visual/speed", "number").input_value() == "2.50"
    # A refused value: the server's error beside the control, the value unchanged.
    number = control(page, "/visual/speed", "number")
    number.fill("99")
    number.dispatch_event("change")
    error = page.locator(".error[data-path='/visual/speed']")
    error.wait_for(state="visible", timeout=10000)
    assert error.text_content() == "/visual/speed: 99 refused, expected a number in [0, 8]"
    assert server.param("/visual/speed") == 2.5
    assert slider.input_value() == "2.5"
    # The next accepted value clears it; the HUD measured control to frame from the stamps.
    slider.evaluate("(el) => { el.value = 1; el.dispatchEvent(new Event('input')); }")
    error.wait_for(state="hidden", timeout=10000)
    wait_stats(page, "s.latencyMs !== null && s.latencyMs > 0")
    assert console.real() == []
    page.close()


def test_xy_pad_and_arrow_keys_move_visual_xy(server: Server, browser: Any) -> None:
    page, console = open_page(browser, server.http + "/")
    pad = page.locator(".control[data-path='/visual/xy'] .xy")
    box = pad.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.25)
    xy = poll(lambda: server.param("/visual/xy"), lambda v: v[0] > 0.4)
    assert xy[0] == pytest.approx(0.5, abs=0.03) and xy[1] == pytest.approx(0.5, abs=0.03)
    page.locator("body").click(position={"x": 500, "y": 200})  # focus off the panel
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowDown")
    moved = poll(lambda: server.param("/visual/xy"), lambda v: v[1] < xy[1] - 0.04)
    assert moved == pytest.approx([xy[0] - 0.05, xy[1] - 0.05], abs=1e-6)
    # OSC moves the dot: the pad follows the live value too.
    send(server, "/visual/xy", -1.0, -1.0)
    page.wait_for_function("document.querySelector(\".control[data-path='/visual/xy'] .dot\")"
                           ".style.left === '0%'", timeout=10000)
    assert console.real() == []
    page.close()


def test_a_like_reaches_the_server_with_the_moment(stage: tuple[Server, Path], browser: Any) -> None:
    server, state = stage
    before = server.get_json("/likes")["total"]
    page, console = open_page(browser, server.http + "/")
    wait_stats(page, "s.drawn >= 2")
    page.click("#like")
    page.locator("body").click(position={"x": 500, "y": 200})
    page.keyboard.press("l")
    page.mouse.dblclick(600, 200)  # on the stream: a touch screen's like
    wait_stats(page, "s.likes === 3", 10000)
    likes = server.get_json("/likes")
    assert likes["total"] == before + 3
    newest = likes["recent"][0]
    assert newest["voice"] == "visual" and isinstance(newest["seq"], int) and newest["seq"] >= 0
    with sqlite3.connect(state / "likes.sqlite") as db:
        params, latents = db.execute("SELECT params_json, latents_json FROM likes WHERE id = ?",
                                     (newest["like"],)).fetchone()
    assert "/visual/speed" in json.loads(params)
    assert len(json.loads(latents)["visual"]) > 1  # the latent on screen then
    assert console.real() == []
    page.close()


def test_text_lines_and_notes_appear(server: Server, browser: Any) -> None:
    page, console = open_page(browser, server.http + "/")
    wait_stats(page, "s.chars > 20 && s.notes > 3")
    assert len(page.locator("#words").text_content() or "") > 10
    # The roll draws notes in colour over its grey grid.
    page.wait_for_function("""() => {
        const c = document.getElementById('roll');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) {
            if (Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 60) return true;
        }
        return false;
    }""", timeout=20000)
    assert console.real() == []
    page.close()


def test_presets_recall_morph_and_store_from_the_page(server: Server, browser: Any) -> None:
    page, console = open_page(browser, server.http + "/")
    presets = page.locator("#presets")
    presets.wait_for(state="visible", timeout=20000)  # built once /schema has come (a busy machine: late)
    page.wait_for_function("document.querySelectorAll('#presets select')[0].options.length >= 3")
    recall = presets.locator(".control", has_text="recall")
    recall.locator("select").select_option("calm")
    recall.locator("button").click()
    assert poll(lambda: server.param("/visual/speed"), lambda v: v == 0.5) == 0.5
    # Morph: from calm to wild, the slider to the end.
    presets.locator("select[data-path='/preset/from']").select_option("calm")
    presets.locator("select[data-path='/preset/to']").select_option("wild")
    poll(lambda: server.param("/preset/to"), lambda v: v == "wild")
    control(page, "/preset/position", "range").evaluate(
        "(el) => { el.value = 1; el.dispatchEvent(new Event('input')); }")
    assert poll(lambda: server.param("/visual/speed"), lambda v: v == 6.0) == 6.0
    store = presets.locator(".control", has_text="store")
    store.locator("input").fill("mine")
    store.locator("button").click()
    names = poll(lambda: server.get_json("/status")["control"]["presets"], lambda n: "mine" in n)
    assert "mine" in names
    assert console.real() == []
    page.close()


def test_the_page_hides_what_the_schema_does_not_offer(server: Server, browser: Any) -> None:
    page = browser.new_page()

    def without_presets(route: Any) -> None:
        schema = json.loads(route.fetch().text())
        schema["params"] = [p for p in schema["params"] if not p["path"].startswith("/preset/")]
        schema["commands"] = [c for c in schema["commands"] if "bookmark" not in c
                              and not c.startswith("/preset/")]
        route.fulfill(json=schema)

    page.route(re.compile(r".*/schema$"), without_presets)
    page.goto(server.http + "/")
    page.wait_for_selector(".control[data-path='/visual/speed']")
    assert page.locator("#presets").is_hidden()
    assert page.locator("button", has_text="bookmark").count() == 0
    assert page.locator("button", has_text="new seed").count() == 1
    page.close()


def test_without_a_draw_voice_there_is_no_drawing_overlay(server: Server, browser: Any) -> None:
    # (tests/test_draw_web.py: with draw voices, their overlay and the pen.)
    page, console = open_page(browser, server.http + "/")
    page.wait_for_selector(".control[data-path='/visual/speed']")
    assert "draw" not in {v["kind"] for v in server.get_json("/status")["voices"].values()}
    assert page.locator("#draw-layer canvas").count() == 0
    assert page.locator("#draw-layer").is_hidden() and page.locator("#pen").is_hidden()
    page.locator("body").click(position={"x": 500, "y": 200})
    page.keyboard.press("d")
    assert stats(page)["drawing"] is False and stats(page)["draw"] == {}
    # The pointer still reaches the stream.
    assert page.evaluate("document.elementFromPoint(400, 250).id") == "view"
    assert console.real() == []
    page.close()


def test_keys_hide_the_panel_show_help_and_stop_the_music(server: Server, browser: Any) -> None:
    page, console = open_page(browser, server.http + "/")
    page.wait_for_selector(".control[data-path='/music/play'] input")
    page.locator("body").click(position={"x": 500, "y": 200})
    page.keyboard.press("h")
    assert page.locator("#panel").is_hidden()
    page.keyboard.press("h")
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    page.keyboard.press("Escape")
    page.keyboard.press(" ")
    assert poll(lambda: server.param("/music/play"), lambda v: v is False) is False
    page.keyboard.press(" ")
    assert poll(lambda: server.param("/music/play"), lambda v: v is True) is True
    assert page.evaluate("document.querySelector('link[rel=icon]').href").endswith("/favicon.svg")
    assert console.real() == []
    page.close()


def test_kiosk_audience_prompt_is_theirs_and_rate_limited(server: Server, browser: Any,
                                                          tmp_path: Path) -> None:
    page, console = open_page(browser, server.http + "/?kiosk&prompt")
    assert page.locator("#panel").is_hidden() and page.locator("#hud").is_hidden()
    assert page.evaluate("getComputedStyle(document.body).cursor") == "none"
    page.fill("#prime", "To be, or not to be")
    page.press("#prime", "Enter")
    assert poll(lambda: server.param("/text/prime"),
                lambda v: v == "To be, or not to be\n") == "To be, or not to be\n"
    page.locator("#words .prompt[data-who='audience']").wait_for(timeout=10000)
    # The voice continues after it.
    page.wait_for_function("document.querySelector('#words .prompt') && "
                           "document.querySelector('#words .prompt').nextElementSibling", timeout=20000)
    page.fill("#prime", "again")
    page.press("#prime", "Enter")
    page.wait_for_function("document.getElementById('prompt-error').textContent.includes('one prompt every')",
                           timeout=10000)
    assert server.param("/text/prime") == "To be, or not to be\n"
    screenshot(page, tmp_path, "web-kiosk-prompt.png")
    assert console.real() == []
    page.close()


def test_kiosk_without_prompt_shows_only_the_stream(server: Server, browser: Any) -> None:
    page, console = open_page(browser, server.http + "/?kiosk")
    wait_stats(page, "s.drawn >= 2 && s.kiosk")
    for hidden in ("#panel", "#hud", "#prompt"):
        assert page.locator(hidden).is_hidden(), hidden
    # A visitor's keys like, and play nothing.
    xy = server.param("/visual/xy")
    page.keyboard.press(" ")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("l")
    wait_stats(page, "s.likes === 1", 10000)
    assert server.param("/music/play") is True and server.param("/visual/xy") == xy
    assert console.real() == []
    page.close()


def test_a_sketch_importing_livegen_js_draws_and_steers(server: Server, browser: Any) -> None:
    # The 20-line sketch in docs/clients.md is the one the server serves at /sketch.html.
    root = Path(__file__).resolve().parent.parent
    doc = (root / "docs" / "clients.md").read_text()
    sketch = re.search(r"<!-- sketch -->\n```html\n(.*?)```", doc, re.S)
    assert sketch, "docs/clients.md lost its livegen.js sketch"
    assert sketch.group(1) == (root / "live" / "web" / "sketch.html").read_text()
    assert len(sketch.group(1).strip().splitlines()) <= 20
    page = browser.new_page(viewport={"width": 400, "height": 400})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.http + "/sketch.html")
    page.wait_for_function(f"({CANVAS_SAMPLE})('canvas').spread > 10", timeout=20000)
    page.mouse.move(300, 200)
    page.mouse.move(320, 200)
    speed = poll(lambda: server.param("/visual/speed"), lambda v: v == pytest.approx(320 / 400 * 8, abs=0.1))
    assert speed == pytest.approx(6.4, abs=0.1)
    assert errors == []
    page.close()


def test_static_files_and_their_types(server: Server) -> None:
    for path, kind in (("/livegen.js", "text/javascript"), ("/page.js", "text/javascript"),
                       ("/style.css", "text/css"), ("/favicon.ico", "image/svg+xml"),
                       ("/favicon.svg", "image/svg+xml"), ("/", "text/html")):
        conn_status, _ = server.get(path)
        assert conn_status == 200, path
        assert content_type(server, path).startswith(kind), path
    for bad in ("/../server.py", "/%2e%2e/server.py", "/web/../../server.py", "/.hidden.js",
                "/livegen.js/..", "//etc/passwd", "/a/b/c.js", "/index.html%00.js", "/app.py",
                "/LIVEGEN.JS", "/livegen.js?x=../../server.py/"):
        status, _ = server.get(bad)
        assert status == 404 or (bad.startswith("/livegen.js?") and status == 200), f"{bad}: {status}"


def content_type(server: Server, path: str) -> str:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.ready["http_port"], timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().getheader("Content-Type") or ""
    finally:
        conn.close()


def test_a_refused_like_changes_nothing(server: Server, browser: Any) -> None:
    page, _ = open_page(browser, server.http + "/")
    before = server.get_json("/likes")["total"]
    message = page.evaluate("""() => window.livegenPage.lg.like({voice: 'nope'}).then(
        () => 'stored', (e) => e.message)""")
    assert message == "like: voice 'nope' refused, expected one of visual"
    assert server.get_json("/likes")["total"] == before
    time.sleep(0.1)
    page.close()


def test_one_stream_of_several_is_shown_and_liked(browser: Any, tmp_path: Path) -> None:
    srv = start_server(patch=patch_in(tmp_path, PATCHES / "two_streams.toml"))
    try:
        page, console = open_page(browser, srv.http + "/?stream=1")
        wait_stats(page, "s.drawn >= 3")
        shown = page.evaluate("""() => new Promise((done) => {
            const seen = new Set(); let n = 0;
            const t = setInterval(() => { seen.add(window.livegenPage.view.info.stream);
                if (++n === 10) { clearInterval(t); done([...seen]); } }, 50); })""")
        assert shown == [1]  # never the first voice's frames
        page.keyboard.press("l")
        wait_stats(page, "s.likes === 1", 10000)
        assert [like["voice"] for like in srv.get_json("/likes")["recent"]] == ["right"]
        assert console.real() == []
        page.close()
    finally:
        assert srv.stop() == 0
