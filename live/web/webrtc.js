// The WebRTC viewer: one visual voice as a video track, straight from livegen (the webrtc
// output) or through a Janus streaming mountpoint (?janus=http://HOST:8088/janus&mount=1);
// control stays on livegen's WebSocket. window.livegenRtc.stats() is what the tests read.
//   /webrtc.html?voice=visual   ?output=NAME   ?signal=ws://HOST:PORT/   ?janus=URL&mount=ID
//   /webrtc.html?camera=N: send this browser's camera to input stream N instead (frames in)

import { defaultUrl } from "/livegen.js";
import { signalling } from "/rtc.js";

const params = new URLSearchParams(location.search);
const video = document.getElementById("video");
const hud = { state: document.getElementById("state"), fps: document.getElementById("fps"),
              speed: document.getElementById("speed") };
const stats = { state: "connecting", frames: 0, fps: 0, diff: 0, mean: 0, width: 0, height: 0,
                via: params.get("janus") ? "janus" : "livegen", error: null };
const sampler = document.createElement("canvas");
sampler.width = sampler.height = 32;
const sampleCtx = sampler.getContext("2d", { willReadFrequently: true });
let previous = null;
const shown = [];  // performance.now() of each frame presented, the last two seconds

function setState(state, error = null) {
  stats.state = state;
  if (error) stats.error = String(error);
  hud.state.textContent = error ? `${state}: ${error}` : state;
}

// Every presented frame: count it, and sample 32x32 of it (its mean, and how much it moved).
function onFrame(now, meta) {
  stats.frames += 1;
  shown.push(now);
  while (shown.length && shown[0] < now - 2000) shown.shift();
  stats.fps = shown.length > 1 ? (shown.length - 1) * 1000 / (shown[shown.length - 1] - shown[0]) : 0;
  stats.width = meta.width; stats.height = meta.height;
  sampleCtx.drawImage(video, 0, 0, 32, 32);
  const data = sampleCtx.getImageData(0, 0, 32, 32).data;
  let sum = 0, diff = 0;
  for (let i = 0; i < data.length; i += 4) {
    const v = data[i] + data[i + 1] + data[i + 2];
    sum += v;
    if (previous) diff += Math.abs(v - previous[i / 4]);
  }
  const values = new Float32Array(data.length / 4);
  for (let i = 0; i < values.length; i++) values[i] = data[4 * i] + data[4 * i + 1] + data[4 * i + 2];
  previous = values;
  stats.mean = sum / (3 * values.length);
  // a moving average of the mean absolute change per channel, frame to frame
  stats.diff = 0.8 * stats.diff + 0.2 * diff / (3 * values.length);
  hud.fps.textContent = stats.fps.toFixed(1);
  video.requestVideoFrameCallback(onFrame);
}

function newPeer() {
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.ontrack = (event) => {
    video.srcObject = event.streams[0] || new MediaStream([event.track]);
    video.requestVideoFrameCallback(onFrame);
  };
  pc.onconnectionstatechange = () => setState(pc.connectionState);
  return pc;
}

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
  });
}

// Straight from livegen: our offer (candidates gathered) over its signalling socket, its answer back.
async function direct() {
  let url = params.get("signal");
  if (!url) {
    const status = await (await fetch("/status")).json();
    const want = params.get("output"), voice = params.get("voice");
    const found = Object.entries(status.outputs || {}).find(([name, o]) => o.kind === "webrtc"
      && (!want || name === want) && (!voice || o.voice === voice) && o.url);
    if (!found) throw new Error("no webrtc output is on (see [outputs] in docs/outputs.md)");
    url = signalling(found[1].url);
  }
  const pc = newPeer();
  pc.addTransceiver("video", { direction: "recvonly" });
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const ws = new WebSocket(url);
  ws.onopen = () => ws.send(JSON.stringify({ op: "offer", sdp: pc.localDescription.sdp }));
  ws.onmessage = async (event) => {
    const msg = JSON.parse(event.data);
    if (msg.op === "answer") await pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
    else setState("refused", msg.message);
  };
  ws.onclose = () => { if (stats.state !== "connected") setState("closed", stats.error); };
}

// Through Janus's streaming plugin over its HTTP API: Janus offers, we answer.
async function janus() {
  const base = params.get("janus"), mount = Number(params.get("mount") || 1);
  const post = async (path, body) => {
    const reply = await (await fetch(base + path, { method: "POST",
      body: JSON.stringify({ transaction: Math.random().toString(36).slice(2), ...body }) })).json();
    if (reply.janus === "error") throw new Error(reply.error.reason);
    return reply;
  };
  const session = (await post("", { janus: "create" })).data.id;
  const handle = (await post(`/${session}`, { janus: "attach", plugin: "janus.plugin.streaming" })).data.id;
  const pc = newPeer();
  const events = async () => {  // long poll: the plugin's offer comes as an event
    for (;;) {
      const msg = await (await fetch(`${base}/${session}?maxev=1`)).json();
      if (msg.janus === "event" && msg.jsep && msg.jsep.type === "offer") return msg.jsep;
      if (msg.janus === "event" && msg.plugindata && msg.plugindata.data.error)
        throw new Error(msg.plugindata.data.error);
    }
  };
  const offered = events();
  await post(`/${session}/${handle}`, { janus: "message", body: { request: "watch", id: mount } });
  await pc.setRemoteDescription(await offered);
  await pc.setLocalDescription(await pc.createAnswer());
  await gathered(pc);
  await post(`/${session}/${handle}`, { janus: "message", body: { request: "start" },
    jsep: { type: "answer", sdp: pc.localDescription.sdp } });
  setInterval(() => post(`/${session}`, { janus: "keepalive" }).catch(() => {}), 25000);
}

// Control stays on livegen's WebSocket: the slider sets /VOICE/speed; tests call set() too.
const control = new WebSocket(defaultUrl());
const pending = new Map();
let nextId = 1;
control.onopen = () => control.send(JSON.stringify({ op: "subscribe", topics: [] }));
control.onmessage = (event) => {
  const msg = JSON.parse(event.data);
  const done = pending.get(msg.id);
  if (done) { pending.delete(msg.id); done(msg); }
};
function set(path, value) {
  const id = nextId++;
  control.send(JSON.stringify({ op: "set", path, value, id }));
  return new Promise((resolve) => pending.set(id, resolve));
}
const voice = params.get("voice") || "visual";
hud.speed.addEventListener("input", () => set(`/${voice}/speed`, Number(hud.speed.value)));

// The frame on show at its own size, as RGBA bytes (what the benches compare with the render).
function pixels() {
  const c = document.createElement("canvas");
  c.width = video.videoWidth; c.height = video.videoHeight;
  const g = c.getContext("2d");
  g.drawImage(video, 0, 0);
  return { width: c.width, height: c.height, data: Array.from(g.getImageData(0, 0, c.width, c.height).data) };
}

// Frames in: this browser's camera to input stream N over livegen's WebSocket, as LGF1 JPEG
// frames (docs/outputs.md, "Frames in"); ?camera=N starts it, the tests call it too.
const sending = { frames: 0, errors: [] };
async function sendCamera(stream = 0, fps = 15, width = 128, height = 96) {
  const cam = document.createElement("video");
  cam.muted = true;
  cam.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width, height } });
  await cam.play();
  const canvas = document.createElement("canvas");
  canvas.width = width; canvas.height = height;
  const g = canvas.getContext("2d");
  control.addEventListener("message", (event) => {
    const msg = JSON.parse(event.data);
    if (msg.op === "error" && msg.message.startsWith("frames in")) sending.errors.push(msg.message);
  });
  setInterval(() => {
    if (control.readyState !== WebSocket.OPEN) return;
    g.drawImage(cam, 0, 0, width, height);
    canvas.toBlob(async (jpeg) => {
      const head = new DataView(new ArrayBuffer(32));  // the LGF1 header, little-endian
      [76, 71, 70, 49].forEach((c, i) => head.setUint8(i, c));
      head.setUint8(4, 1); head.setUint8(5, stream);
      head.setUint16(6, width, true); head.setUint16(8, height, true);
      head.setUint32(12, sending.frames, true);
      control.send(await new Blob([head, jpeg]).arrayBuffer());
      sending.frames += 1;
    }, "image/jpeg", 0.85);
  }, 1000 / fps);
}

window.livegenRtc = { stats: () => ({ ...stats }), set, pixels, sendCamera, sending };
if (params.has("camera")) {
  control.addEventListener("open", () => sendCamera(Number(params.get("camera") || 0))
    .catch((e) => sending.errors.push(String(e))));
} else {
  (params.get("janus") ? janus() : direct()).catch((e) => setState("failed", e.message || e));
}
