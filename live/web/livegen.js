// livegen.js: the livegen WebSocket protocol for browsers (the page, a p5.js or three.js sketch).
//
//   import { connect } from "/livegen.js";
//   const lg = connect();                          // ws://<this host>/ws, reconnects forever
//   const lg = connect(url, { streams: [1] });     // only the second visual voice's frames
//   lg.on("frame", (image, info) => ctx.drawImage(image, 0, 0));   // newest frame only
//   lg.set("/visual/speed", 2).then((stamp) => ...).catch((err) => ...);
//
// Events: "frame" (image, info), "param", "note", "text", "status", any other op the server sends,
// "state" ("connecting" | "open" | "closed"), "error" (messages that answer no request).
// Docs: docs/clients.md and docs/protocol.md.

export const HEADER_BYTES = 32;
export const JPEG = 1, RGBA = 2;

/** Parse the 32-byte LGF1 header of a binary frame message; null if it is not one. */
export function parseFrame(buffer) {
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < HEADER_BYTES) return null;
  const v = new DataView(buffer);
  if (v.getUint32(0, false) !== 0x4c474631) return null;  // "LGF1"
  return {
    format: v.getUint8(4), stream: v.getUint8(5), width: v.getUint16(6, true),
    height: v.getUint16(8, true), seq: v.getUint32(12, true), stamp: v.getUint32(16, true),
    renderUs: Number(v.getBigUint64(20, true)), bytes: buffer.byteLength,
  };
}

/** Decode a frame message into something drawImage takes (ImageBitmap) and its header. */
export async function decodeFrame(buffer) {
  const info = parseFrame(buffer);
  if (!info) throw new Error(`not an LGF1 frame (${buffer.byteLength} bytes)`);
  const body = new Uint8ClampedArray(buffer, HEADER_BYTES);
  const image = info.format === RGBA
    ? await createImageBitmap(new ImageData(body, info.width, info.height))
    : await createImageBitmap(new Blob([body], { type: "image/jpeg" }));
  return { image, info };
}

/** The default WebSocket address: this page's host, /ws, with the page's ?token= if it has one. */
export function defaultUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const token = new URLSearchParams(location.search).get("token");
  return `${scheme}://${location.host}/ws` + (token ? `?token=${encodeURIComponent(token)}` : "");
}

class Livegen {
  constructor(url, options) {
    this.url = url;
    this.topics = options.topics || null;  // null: the server's default (everything)
    this.streams = options.streams || null;  // visual streams to decode (null: all)
    this.maxBackoffMs = options.maxBackoffMs ?? 10000;
    this.state = "connecting";
    this.handlers = new Map();
    this.waiting = new Map();  // id -> {resolve, reject, path}
    this.nextId = 1;
    this.backoffMs = 250;
    this.latest = new Map();  // stream -> newest undecoded frame buffer (newest wins)
    this.lastSeq = new Map();  // stream -> newest decoded sequence number
    this.decoding = false;
    this.received = 0;  // frame messages received, since the start
    this.connects = 0;
    this.ws = null;
    this.open();
  }

  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event).add(fn);
    return () => this.handlers.get(event).delete(fn);
  }

  emit(event, ...args) {
    for (const fn of this.handlers.get(event) || []) {
      try { fn(...args); } catch (e) { console.warn(`livegen: a ${event} handler threw`, e); }
    }
  }

  setState(state) {
    if (state !== this.state) { this.state = state; this.emit("state", state); }
  }

  open() {
    this.setState("connecting");
    const ws = this.ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      this.connects++;
      this.backoffMs = 250;
      this.lastSeq.clear();  // a restarted server numbers its frames from 0 again
      this.setState("open");
      if (this.topics) this.send({ op: "subscribe", topics: this.topics });
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") this.onJson(ev.data);
      else this.onFrame(ev.data);
    };
    // Forever, with backoff and jitter: a gallery screen outlives server restarts and Wi-Fi drops.
    ws.onclose = () => {
      if (this.ws !== ws) return;
      for (const w of this.waiting.values()) w.reject(new Error("connection closed"));
      this.waiting.clear();
      this.setState("closed");
      const wait = this.backoffMs * (0.75 + Math.random() * 0.5);
      this.backoffMs = Math.min(this.maxBackoffMs, this.backoffMs * 2);
      if (!this.stopped) setTimeout(() => this.open(), wait);
    };
  }

  close() { this.stopped = true; if (this.ws) this.ws.close(); }

  onJson(text) {
    let msg;
    try { msg = JSON.parse(text); } catch { return; }
    const w = msg.id != null ? this.waiting.get(msg.id) : undefined;
    if (w) {
      this.waiting.delete(msg.id);
      if (msg.op === "error") w.reject(Object.assign(new Error(msg.message), { path: w.path }));
      else w.resolve(msg);
      return;
    }
    this.emit(msg.op, msg);
  }

  onFrame(buffer) {
    const info = parseFrame(buffer);
    if (!info || (this.streams && !this.streams.includes(info.stream))) return;  // not ours: never decoded
    this.received++;
    info.receivedAt = performance.now();
    this.latest.set(info.stream, { buffer, info });
    this.emit("received", info);
    if (!this.decoding) this.decodeLoop();
  }

  // One decode at a time; whatever arrived meanwhile replaces the older frame (newest wins).
  async decodeLoop() {
    this.decoding = true;
    try {
      while (this.latest.size) {
        const [stream, { buffer, info }] = this.latest.entries().next().value;
        this.latest.delete(stream);
        if (info.seq <= (this.lastSeq.get(stream) ?? -1)) continue;
        this.lastSeq.set(stream, info.seq);
        try {
          const { image } = await decodeFrame(buffer);
          info.decodedAt = performance.now();
          this.emit("frame", image, info);
        } catch (e) {
          this.emit("error", { op: "error", message: `frame ${info.seq}: ${e.message}` });
        }
      }
    } finally {
      this.decoding = false;
    }
  }

  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /** Send a message with an id; a promise of the server's answer (rejects with its error). */
  request(msg) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (!this.send({ ...msg, id })) return reject(new Error(`not connected (${this.state})`));
      this.waiting.set(id, { resolve, reject, path: msg.path || msg.address });
    });
  }

  /** Set a parameter; resolves to the change's stamp. */
  set(path, value) { return this.request({ op: "set", path, value }).then((m) => m.stamp); }
  /** Read a parameter; resolves to its value. */
  get(path) { return this.request({ op: "get", path }).then((m) => m.value); }
  subscribe(topics) { this.topics = topics; return this.request({ op: "subscribe", topics }); }
  /** Call a preset or bookmark command (the server's /schema `commands`). */
  call(address, ...args) { return this.request({ op: "call", address, args }); }
  /** Like the moment: what is on screen (voice, seq, stamp) and an optional note. */
  like(fields = {}) { return this.request({ op: "like", ...fields }).then((m) => m.like); }
  /** An audience prompt for a text voice (rate-limited per connection by the server). */
  prompt(text, path = "/text/prime") { return this.request({ op: "prompt", text, path }); }

  /** GET /schema (params and commands). */
  async schema() { return (await fetch(this.httpBase() + "/schema")).json(); }
  /** GET /status. */
  async status() { return (await fetch(this.httpBase() + "/status")).json(); }

  httpBase() {
    const u = new URL(this.url);
    return `${u.protocol === "wss:" ? "https:" : "http:"}//${u.host}`;
  }
}

/** Connect to a livegen server (default: the page's own host); reconnects forever. */
export function connect(url = defaultUrl(), options = {}) {
  return new Livegen(url, options);
}
