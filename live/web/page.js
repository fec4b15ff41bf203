// The livegen page: the stream, controls from /schema, presets, HUD, text, piano roll, the
// drawing voices' strokes over the stream (and a prime drawn by hand), sound, likes, the room's
// microphone and the keys. ?kiosk makes it a gallery screen.
import { connect } from "/livegen.js";
import { Controls } from "/controls.js";
import { DrawLayer } from "/draw.js";
import { startKiosk } from "/kiosk.js";
import { Mic } from "/mic.js";
import { MidiOut } from "/midi.js";
import { PresetPanel } from "/presets.js";
import { Roll } from "/roll.js";
import { offered, RtcStream } from "/rtc.js";
import { Synth } from "/synth.js";
import { Meter, View } from "/view.js";
import { Words } from "/words.js";

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
const kiosk = query.has("kiosk");
const audiencePrompt = kiosk && query.has("prompt");

const stream = Number(query.get("stream")) || 0;  // which visual voice, in patch order
const lg = connect(undefined, { streams: [stream] });
const view = new View($("view"));
const meter = new Meter();
const controls = new Controls($("controls"), lg, meter);
const presets = new PresetPanel($("presets"), lg, controls);
const words = new Words($("words"));
const roll = new Roll($("roll"));
const drawLayer = new DrawLayer($("draw-layer"), lg, { input: !kiosk });  // a gallery only watches
const synth = new Synth();
const midi = new MidiOut();
const mic = new Mic((path, value) => controls.send(path, value));
let voices = {};  // from /status: name -> {kind, ...}
let schema = { params: [], commands: [] };
let likes = 0;
let rtc = null, via = "websocket", rtcRetryAt = 0;
const TOPICS = ["frames", "notes", "text", "status", "param", "draw"];
const samples = [];  // ?bench: one entry per frame drawn, for bench/page_fps.py
const stallS = Number(query.get("stall")) || undefined;  // seconds without frames before a reload
const kioskState = kiosk ? startKiosk(view, stallS && stallS * 1000) : null;

lg.on("received", () => { meter.received++; });
lg.on("frame", (image, info) => view.show(image, info));
view.onDraw = (info) => {
  meter.drew(info);
  drawLayer.frameSize(info.width, info.height);
  if (query.has("bench") && samples.length < 20000) {
    samples.push({ seq: info.seq, w: info.width, received: info.receivedAt, decoded: info.decodedAt,
      drawn: info.drawnAt, renderUs: info.renderUs, drawnUnixUs: (performance.timeOrigin + info.drawnAt) * 1000 });
  }
};

lg.on("state", (state) => {
  $("conn").textContent = state === "open" ? "live" : state;
  $("conn").className = `state-${state}`;
  if (state === "open") load();  // a restarted or reloaded server may have other parameters
});
lg.on("param", (m) => {
  controls.update(m.path, m.value);
  const p = controls.params.get(m.path);
  if (p && p.type === "string" && m.path.endsWith("/prime") && m.value.trim()) {
    words.prompt(m.value, m.source === "audience" ? "audience" : "prompt");
  }
});
lg.on("text", (m) => { if (m.kind === "char") words.char(m.text); });
lg.on("note", (m) => { roll.add(m); synth.note(m); midi.note(m); });
lg.on("status", (m) => {
  voices = m.voices || voices;
  maybeRtc(m);
  roll.clock(m.clock);
  presets.setNames(m.control?.presets || []);
  if (m.clock) $("bar").textContent = `bar ${m.clock.bar}`;
});
lg.on("beat", (m) => beat(m.in_bar, m.bar));
lg.on("reloaded", () => load());
lg.on("error", (m) => log(m.text || m.message));

async function load() {
  try {
    const [s, status] = await Promise.all([lg.schema(), lg.status()]);
    schema = s;
    voices = status.voices || {};
    controls.build(schema, voices);
    presets.build(schema);
    presets.setNames(status.control?.presets || []);
    roll.clock(status.clock);
    // No music voice, no piano roll: the stream keeps the whole screen.
    $("roll").classList.toggle("hidden", !Object.values(voices).some((v) => v.kind === "music"));
    // A draw voice: its strokes over the stream, and the pen button that lets you draw a prime.
    const shown = voices[shownVoice()];
    if (shown?.resolution && !view.image) drawLayer.frameSize(shown.resolution, shown.resolution);
    drawLayer.build(schema, voices);
    buildPen();
    maybeRtc(status);
    const prime = schema.params.find((p) => p.type === "string" && p.path.endsWith("/prime"));
    $("prompt").classList.toggle("hidden", !prime || (kiosk && !audiencePrompt));
    $("prompt").dataset.path = prime ? prime.path : "";
  } catch (e) {
    log(`could not read the server's schema: ${e.message}`);
  }
}

const shownVoice = () => Object.entries(voices).filter(([, v]) => v.kind === "visual")[stream]?.[0];

// WebRTC when a webrtc output serves the shown voice (?rtc=0: never); frames over the WebSocket
// until it plays, and again if it fails (then another try in 15 s).
function maybeRtc(status) {
  if (rtc || query.get("rtc") === "0" || performance.now() < rtcRetryAt) return;
  const url = offered(status, shownVoice());
  if (!url || typeof RTCPeerConnection === "undefined") return;
  rtc = new RtcStream(url, (video, meta) => view.show(video, {
    stream, width: meta.width, height: meta.height, seq: -1, stamp: 0, receivedAt: performance.now() }),
  (state) => {
    if (state === "connected") {
      via = "webrtc";
      lg.subscribe(TOPICS.filter((t) => t !== "frames")).catch(() => {});
    } else if (state === "failed") {
      rtc = null;
      rtcRetryAt = performance.now() + 15000;
      if (via === "webrtc") lg.subscribe(TOPICS).catch(() => {});
      via = "websocket";
    }
  });
  rtc.start().catch((e) => { log(`WebRTC: ${e.message}`); rtc?.fail(); });
}

function log(text) {
  if (!text) return;
  const line = document.createElement("div");
  line.textContent = text;
  $("log").append(line);
  while ($("log").children.length > 4) $("log").firstElementChild.remove();
}

let beatTimer = null;
function beat(inBar, bar) {
  const dots = $("beat").children;
  for (let i = 0; i < dots.length; i++) {
    dots[i].classList.toggle("on", i === inBar % dots.length);
    dots[i].classList.toggle("down", i === 0);
  }
  $("bar").textContent = `bar ${bar}`;
  clearTimeout(beatTimer);
  beatTimer = setTimeout(() => { for (const d of dots) d.classList.remove("on"); }, 120);
}

setInterval(() => {
  $("fps").textContent = `${meter.rates.received} in · ${meter.rates.drawn} drawn fps`;
  $("latency").textContent = via === "webrtc" ? "via WebRTC"  // no stamps on a video track
    : meter.latencyMs === null ? "ctl→frame –" : `ctl→frame ${Math.round(meter.latencyMs)} ms`;
}, 500);

// -- likes ------------------------------------------------------------------------------
function like() {
  const info = view.info;
  const fields = info && info.seq >= 0 ? { seq: info.seq, stamp: info.stamp } : {};
  if (shownVoice()) fields.voice = shownVoice();
  lg.like(fields).then(() => {
    likes++;
    const heart = $("heart");
    heart.classList.add("beat");
    setTimeout(() => heart.classList.remove("beat"), 60);
  }).catch((e) => log(e.message));
}
$("like").onclick = like;
$("view").ondblclick = like;  // a touch screen in a gallery has no keyboard: double-tap the stream

// -- sound and microphone (each starts on a click: browsers need a gesture) -----------------
$("sound").onclick = async () => {
  if (synth.on) await synth.stop(); else await synth.start().catch((e) => log(`sound: ${e.message}`));
  $("sound").setAttribute("aria-pressed", String(synth.on));
};
$("midi").onclick = async () => {
  try {
    if (midi.on) midi.stop(); else log(`MIDI out: ${await midi.start()}`);
  } catch (e) {
    log(`MIDI out: ${e.message}`);
  }
  $("midi").setAttribute("aria-pressed", String(midi.on));
};
$("mic").onclick = async () => {
  try {
    if (mic.on) await mic.stop(); else await mic.start();
  } catch (e) {
    log(`microphone: ${e.message}`);
  }
  $("mic").setAttribute("aria-pressed", String(mic.on));
};

// -- the pen: drawing mode sends what you draw on the stream as a draw voice's prime -----------
function buildPen() {
  const names = drawLayer.voices;
  $("pen").classList.toggle("hidden", names.length === 0 || kiosk);
  const pick = $("pen-voice");
  if (names.join("\n") !== [...pick.options].map((o) => o.value).join("\n")) {
    pick.replaceChildren(...names.map((n) => new Option(n, n)));
  }
  pick.value = drawLayer.target || "";
  pick.classList.toggle("hidden", names.length < 2);
  $("pen-toggle").setAttribute("aria-pressed", String(drawLayer.drawing));
}
function toggleDrawing(on = !drawLayer.drawing) {
  drawLayer.setDrawing(on);
  $("pen-toggle").setAttribute("aria-pressed", String(drawLayer.drawing));
}
$("pen-toggle").onclick = () => toggleDrawing();
$("pen-voice").onchange = () => { drawLayer.target = $("pen-voice").value; toggleDrawing(drawLayer.drawing); };

// -- the prompt -------------------------------------------------------------------------
$("prompt").onsubmit = (ev) => {
  ev.preventDefault();
  const text = $("prime").value.trim(), path = $("prompt").dataset.path;
  if (!text || !path) return;
  $("prompt-error").textContent = "";
  // The audience goes through `prompt` (rate-limited per connection); a performer sets the prime.
  const sent = audiencePrompt ? lg.prompt(text, path) : lg.set(path, `${text}\n`);
  sent.then(() => { $("prime").value = ""; })
    .catch((e) => { $("prompt-error").textContent = e.message; });
};

// -- keys -------------------------------------------------------------------------------
const XY_STEP = 0.05;
const ARROWS = { ArrowLeft: [-XY_STEP, 0], ArrowRight: [XY_STEP, 0], ArrowUp: [0, XY_STEP], ArrowDown: [0, -XY_STEP] };
document.addEventListener("keydown", (e) => {
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName) && e.target.type !== "range";
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  // A gallery visitor at the keyboard likes, goes full screen or reads the keys; never plays.
  if (kiosk && !["l", "f", "?", "Escape"].includes(e.key)) return;
  if (e.key === "h") $("panel").classList.toggle("hidden");
  else if (e.key === "f") {
    if (document.fullscreenElement) document.exitFullscreen(); else document.documentElement.requestFullscreen().catch(() => {});
  } else if (e.key === " ") {
    e.preventDefault();
    const plays = Object.entries(voices).filter(([, v]) => v.kind === "music").map(([n]) => `/${n}/play`)
      .filter((p) => controls.params.has(p));
    const anyOn = plays.some((p) => controls.params.get(p).value);
    for (const p of plays) {
      controls.params.get(p).value = !anyOn;  // the next press must not wait for the echo
      controls.send(p, !anyOn);
    }
  } else if (e.key === "l") like();
  else if (e.key === "d" && drawLayer.voices.length) toggleDrawing();
  else if (e.key === "?") $("help").classList.toggle("hidden");
  else if (e.key === "Escape") $("help").classList.add("hidden");
  else if (ARROWS[e.key]) {
    const xy = schema.params.find((p) => p.type === "vector" && p.size === 2 && p.path.endsWith("/xy"));
    if (!xy) return;
    e.preventDefault();
    controls.nudge(xy.path, ...ARROWS[e.key]);
  }
});
$("help-button").onclick = () => $("help").classList.toggle("hidden");

// ?mic opens the microphone at once: a gallery screen has nobody to click (the browser must
// allow it without asking: see docs/gallery.md).
if (query.has("mic")) {
  mic.start().then(() => $("mic").setAttribute("aria-pressed", "true"))
    .catch((e) => log(`microphone: ${e.message}`));
}

// What tests and bench/page_fps.py read.
window.livegenPage = {
  lg, view, meter, controls, words, roll, mic, samples, drawLayer,
  stats: () => ({ state: lg.state, connects: lg.connects, received: lg.received, drawn: view.drawn,
    seq: view.info ? view.info.seq : -1, chars: words.chars, notes: roll.received, likes,
    latencyMs: meter.latencyMs, via, kiosk, wakeLock: kioskState ? kioskState.wakeLock : null,
    draw: drawLayer.stats(), drawing: drawLayer.drawing }),
};
