// draw.js: the drawing voice's pen strokes (the WebSocket `draw` topic) on a canvas, and a
// prime drawn by hand on the same canvas (the voice continues from its last point).
//
//   import { connect } from "/livegen.js";
//   import { attachDraw } from "/draw.js";
//   const pen = attachDraw(connect(), canvas, { voice: "draw", color: "#fff", width: 2 });
//   pen.stats  // { points, segments, strokes, clears, primes, sent }; pen.picture(): [x, y, pen]s
//
// Messages (docs/protocol.md): {op: "draw", voice, kind: "point", x, y, pen} with x, y in 0..1
// (y down) and pen 1 = a line joins this point to the next, 0 = lifted after it, 2 = the
// drawing ends; kind "stroke" (points), "clear", "prime" (points, as the performer drew them).

const MAX_PRIME_POINTS = 500;  // the server refuses more

/** Draw one voice's strokes on `canvas` from a livegen.js connection; returns a handle. */
export function attachDraw(lg, canvas, options = {}) {
  const voice = options.voice || "draw";
  const ctx = canvas.getContext("2d");
  const stats = { points: 0, segments: 0, strokes: 0, clears: 0, primes: 0, sent: 0 };
  let last = null;  // the previous point {x, y, pen}: a line joins it to the next if pen is 1
  let picture = [];  // every point on the canvas since it was last cleared (to redraw it)

  function line(a, b, color) {
    ctx.strokeStyle = color;
    ctx.lineWidth = options.width || 2;
    ctx.lineCap = "round";
    ctx.beginPath();
    ctx.moveTo(a.x * canvas.width, a.y * canvas.height);
    ctx.lineTo(b.x * canvas.width, b.y * canvas.height);
    ctx.stroke();
    stats.segments += 1;
  }

  function clear() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    last = null;
    picture = [];
    stats.clears += 1;
  }

  function onDraw(msg) {
    if (msg.voice !== voice) return;
    if (msg.kind === "clear") {
      clear();
    } else if (msg.kind === "prime") {
      let prev = null;
      for (const [x, y, pen] of msg.points) {
        const p = { x, y, pen };
        if (prev && prev.pen === 1) line(prev, p, options.primeColor || "#888");
        prev = p;
        picture.push(p);
      }
      last = prev;
      stats.primes += 1;
    } else if (msg.kind === "point") {
      const p = { x: msg.x, y: msg.y, pen: msg.pen };
      if (last && last.pen === 1) line(last, p, options.color || "#fff");
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
  const onDown = (ev) => { down = true; drawn.push([...at(ev), 1]); };
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
    picture: () => picture.map((p) => [p.x, p.y, p.pen]),
    detach() {
      off();
      canvas.removeEventListener("pointerdown", onDown);
      canvas.removeEventListener("pointermove", onMove);
      window.removeEventListener("pointerup", onUp);
    },
  };
}
