// draw.js: the drawing voice's pen strokes (the WebSocket `draw` topic) on a canvas, and a
// prime drawn by hand on the same canvas (the voice continues from its last point).
//
//   import { connect } from "/livegen.js";
//   import { attachDraw } from "/draw.js";
//   const pen = attachDraw(connect(), canvas, { voice: "draw", color: "#fff", width: 2 });
//   pen.stats  // { points, segments, strokes, clears, primes, sent }; pen.picture(): [x, y, pen]s
//
// DrawLayer (the main page) keeps one such canvas per draw voice over the stream's picture.
//
// Messages (docs/protocol.md): {op: "draw", voice, kind: "point", x, y, pen} with x, y in 0..1
// (y down) and pen 1 = a line joins this point to the next, 0 = lifted after it, 2 = the
// drawing ends; kind "stroke" (points), "clear", "prime" (points, as the performer drew them).

const MAX_PRIME_POINTS = 500;  // the server refuses more

/** Draw one voice's strokes on `canvas` from a livegen.js connection; returns a handle.
 * `options` (voice, color, primeColor, width in canvas pixels, prime: false for no input) is
 * read at each line: change it and call redraw(). */
export function attachDraw(lg, canvas, options = {}) {
  const voice = options.voice || "draw";
  const ctx = canvas.getContext("2d");
  const stats = { points: 0, segments: 0, strokes: 0, clears: 0, primes: 0, sent: 0 };
  let last = null;  // the previous point {x, y, pen}: a line joins it to the next if pen is 1
  let picture = [];  // every point on the canvas since it was last cleared (to redraw it)

  function line(a, b, color, counted = true) {
    ctx.strokeStyle = color;
    ctx.lineWidth = options.width || 2;
    ctx.lineCap = "round";
    ctx.beginPath();
    ctx.moveTo(a.x * canvas.width, a.y * canvas.height);
    ctx.lineTo(b.x * canvas.width, b.y * canvas.height);
    ctx.stroke();
    if (counted) stats.segments += 1;
  }
  const colorOf = (p) => (p.primed ? options.primeColor || "#888" : options.color || "#fff");

  function clear() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    last = null;
    picture = [];
    stats.clears += 1;
  }

  /** The picture again, from its points (after a resize or a change of colour or width). */
  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    for (let i = 1; i < picture.length; i++) {
      if (picture[i - 1].pen === 1) line(picture[i - 1], picture[i], colorOf(picture[i]), false);
    }
  }

  function onDraw(msg) {
    if (msg.voice !== voice) return;
    if (msg.kind === "clear") {
      clear();
    } else if (msg.kind === "prime") {
      let prev = null;
      for (const [x, y, pen] of msg.points) {
        const p = { x, y, pen, primed: true };
        if (prev && prev.pen === 1) line(prev, p, colorOf(p));
        prev = p;
        picture.push(p);
      }
      last = prev;
      stats.primes += 1;
    } else if (msg.kind === "point") {
      const p = { x: msg.x, y: msg.y, pen: msg.pen };
      if (last && last.pen === 1) line(last, p, colorOf(p));
      last = p;
      picture.push(p);
      stats.points += 1;
    } else if (msg.kind === "stroke") {
      stats.strokes += 1;
    }
  }
  const off = lg.on("draw", onDraw);  // on() returns the way to stop listening

  // A prime by hand: each pointer stroke is sent as the performer lifts the pen.
  let drawn = [];
  let down = false;
  const at = (ev) => {
    const r = canvas.getBoundingClientRect();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    return [clamp((ev.clientX - r.left) / r.width), clamp((ev.clientY - r.top) / r.height)];
  };
  const onDown = (ev) => {
    down = true;
    drawn.push([...at(ev), 1]);
    canvas.setPointerCapture?.(ev.pointerId);
    ev.preventDefault();
  };
  const onMove = (ev) => {
    if (!down) return;
    const [x, y] = at(ev);
    const prev = drawn[drawn.length - 1];
    line({ x: prev[0], y: prev[1] }, { x, y }, options.primeColor || "#888");
    drawn.push([x, y, 1]);
  };
  const onUp = () => {
    if (!down) return;
    down = false;
    drawn[drawn.length - 1][2] = 0;  // the pen lifted here
    let points = drawn;
    if (points.length > MAX_PRIME_POINTS) {  // keep every k-th point and the last
      const k = Math.ceil(points.length / MAX_PRIME_POINTS);
      points = points.filter((_, i) => i % k === 0 || i === points.length - 1).slice(-MAX_PRIME_POINTS);
    }
    lg.set(`/${voice}/prime`, points).then(() => { stats.sent += 1; })
      .catch((e) => console.warn(e.message));
    drawn = [];
  };
  if (options.prime !== false) {
    canvas.addEventListener("pointerdown", onDown);
    canvas.addEventListener("pointermove", onMove);
    window.addEventListener("pointerup", onUp);
  }

  return {
    stats,
    clear,
    redraw,
    /** A new backing size (this clears a canvas), the picture drawn again at it; false if the
     * size was already that. */
    resize(width, height) {
      if (canvas.width === width && canvas.height === height) return false;
      canvas.width = width;
      canvas.height = height;
      redraw();
      return true;
    },
    picture: () => picture.map((p) => [p.x, p.y, p.pen]),
    detach() {
      off();
      canvas.removeEventListener("pointerdown", onDown);
      canvas.removeEventListener("pointermove", onMove);
      window.removeEventListener("pointerup", onUp);
    },
  };
}

const rgb = (c) => `rgb(${c.map((v) => Math.round(255 * v)).join(", ")})`;

/** The main page's overlay: one transparent canvas per draw voice, laid exactly over the
 * stream's letterboxed picture, in each voice's /NAME/color and /NAME/width (pixels of the frame,
 * scaled as the picture is). `input` false (kiosk): shown, never drawn on by hand. */
export class DrawLayer {
  constructor(box, lg, { input = true } = {}) {
    this.box = box;
    this.lg = lg;
    this.input = input;
    this.pens = new Map();  // voice -> {canvas, pen, options, color, width}
    this.frame = { width: 1, height: 1 };  // the stream's frame size (its aspect, its pixels)
    this.target = null;  // the voice a hand-drawn prime goes to
    this.drawing = false;  // drawing mode: the pointer draws a prime instead of reaching the stream
    this.boxWidth = 0;  // the picture's width on screen, CSS pixels
    addEventListener("resize", () => this.layout());
    lg.on("param", (m) => this.param(m.path, m.value));
  }

  get voices() { return [...this.pens.keys()]; }

  /** The draw voices from /status (and their colour and width from /schema). */
  build(schema, voices) {
    const names = Object.entries(voices).filter(([, v]) => v.kind === "draw").map(([n]) => n);
    for (const [name, p] of this.pens) {
      if (!names.includes(name)) { p.pen.detach(); p.canvas.remove(); this.pens.delete(name); }
    }
    for (const name of names) {
      if (this.pens.has(name)) continue;
      const canvas = document.createElement("canvas");
      canvas.dataset.voice = name;
      canvas.setAttribute("aria-label", `pen strokes of the ${name} voice`);
      this.box.append(canvas);
      const options = { voice: name, color: "#fff", primeColor: "#999", width: 2, prime: this.input };
      this.pens.set(name, { canvas, options, pen: attachDraw(this.lg, canvas, options), color: [1, 1, 1], width: 2 });
    }
    for (const p of schema.params || []) this.param(p.path, p.value, false);
    this.box.classList.toggle("hidden", names.length === 0);
    if (!names.includes(this.target)) this.target = names[0] || null;
    this.layout();
    this.setDrawing(this.drawing);
  }

  /** The size of the frames the stream shows (its first frame, a model switch, an upscale). */
  frameSize(width, height) {
    if (!(width > 0 && height > 0) || (width === this.frame.width && height === this.frame.height)) return;
    this.frame = { width, height };
    this.layout();
  }

  /** The box over the picture as View letterboxes it (aspect kept, centred); backing stores at
   * the screen's pixels. */
  layout() {
    const { width: fw, height: fh } = this.frame;
    const scale = Math.min(innerWidth / fw, innerHeight / fh);
    const w = fw * scale, h = fh * scale;
    Object.assign(this.box.style, { left: `${(innerWidth - w) / 2}px`, top: `${(innerHeight - h) / 2}px`,
      width: `${w}px`, height: `${h}px` });
    this.boxWidth = w;
    const dpr = devicePixelRatio || 1;
    for (const p of this.pens.values()) {
      this.style(p);
      if (!p.pen.resize(Math.max(1, Math.round(w * dpr)), Math.max(1, Math.round(h * dpr)))) p.pen.redraw();
    }
  }

  style(p) {
    p.options.color = rgb(p.color);
    // A frame pixel is canvas.width / frame.width canvas pixels: lines as thick as the composite's.
    const dpr = devicePixelRatio || 1;
    const perPixel = this.frame.width > 1 ? ((this.boxWidth || 0) * dpr) / this.frame.width : dpr;
    p.options.width = Math.max(1.5 * dpr, p.width * perPixel);
  }

  /** A parameter's value: /NAME/color and /NAME/width restyle (and redraw) that voice's lines. */
  param(path, value, redraw = true) {
    const [, name, leaf] = path.split("/");
    const p = this.pens.get(name);
    if (!p || path !== `/${name}/${leaf}`) return;
    if (leaf === "color" && Array.isArray(value) && value.length === 3) p.color = value;
    else if (leaf === "width" && Number.isFinite(value)) p.width = value;
    else return;
    this.style(p);
    if (redraw) p.pen.redraw();
  }

  /** Drawing mode on or off (off: the pointer reaches the stream as before). */
  setDrawing(on) {
    this.drawing = Boolean(on) && this.input && this.target !== null;
    for (const [name, p] of this.pens) p.canvas.classList.toggle("pen-on", this.drawing && name === this.target);
    this.box.classList.toggle("drawing", this.drawing);
    return this.drawing;
  }

  /** What tests read: each voice's counts and picture. */
  stats() {
    return Object.fromEntries([...this.pens].map(([n, p]) => [n, { ...p.pen.stats, picture: p.pen.picture() }]));
  }
}
