// A scrolling piano roll: notes move right to left past a playhead, on a beat grid, coloured by
// voice (hue) and velocity (lightness); the pitch range follows what is playing.

const SPAN_S = 8;  // seconds across the roll
const PLAYHEAD = 0.8;  // where "now" is, as a fraction of the width: the future shows too
const HUES = [200, 340, 40, 130, 270, 10];

export class Roll {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.notes = [];
    this.voices = [];
    this.lo = 48; this.hi = 84;  // the pitch range shown, eased toward what plays
    this.anchor = null;  // {time, beat}: a note's due time and beat, for the grid
    this.bpm = 120; this.beatsPerBar = 4;
    this.received = 0;
    requestAnimationFrame(() => this.draw());
  }

  add(note) {
    this.received++;
    if (!this.voices.includes(note.voice)) this.voices.push(note.voice);
    this.notes.push(note);
    if (this.notes.length > 512) this.notes.shift();
    if (Number.isFinite(note.beat)) this.anchor = { time: note.time, beat: note.beat };
  }

  clock(c) {
    if (!c) return;
    this.bpm = c.bpm || this.bpm;
    this.beatsPerBar = c.beats_per_bar || this.beatsPerBar;
    if (!this.anchor && Number.isFinite(c.beat)) this.anchor = { time: Date.now() / 1000, beat: c.beat };
  }

  draw() {
    requestAnimationFrame(() => this.draw());
    const { canvas, ctx } = this;
    const dpr = devicePixelRatio || 1;
    const w = Math.round(canvas.clientWidth * dpr), h = Math.round(canvas.clientHeight * dpr);
    if (!w || !h) return;
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    const now = Date.now() / 1000;
    const x = (t) => w * PLAYHEAD + ((t - now) / SPAN_S) * w;
    const visible = this.notes.filter((n) => x(n.time + n.duration) > 0 && x(n.time) < w);
    if (visible.length) {
      const lo = Math.min(...visible.map((n) => n.pitch)) - 2, hi = Math.max(...visible.map((n) => n.pitch)) + 2;
      const mid = (lo + hi) / 2, half = Math.max(12, (hi - lo) / 2);
      this.lo += (mid - half - this.lo) * 0.05;
      this.hi += (mid + half - this.hi) * 0.05;
    }
    const y = (p) => h - ((p - this.lo) / (this.hi - this.lo)) * h;
    const rowH = Math.max(2, h / (this.hi - this.lo) - 1);
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "rgba(0,0,0,0.45)";
    ctx.fillRect(0, 0, w, h);
    // Octave lines (C) and the beat grid; bar lines brighter.
    ctx.fillStyle = "rgba(255,255,255,0.07)";
    for (let p = Math.ceil(this.lo / 12) * 12; p < this.hi; p += 12) ctx.fillRect(0, y(p), w, 1);
    ctx.fillStyle = "rgba(255,255,255,0.35)";
    ctx.font = `${Math.round(10 * dpr)}px ui-monospace, monospace`;
    const every = y(0) - y(12) < 16 * dpr ? 24 : 12;  // labels that do not overlap
    for (let p = Math.ceil(this.lo / every) * every; p < this.hi; p += every) {
      ctx.fillText(`C${p / 12 - 1}`, 4 * dpr, y(p) - 2 * dpr);
    }
    if (this.anchor) {
      const secPerBeat = 60 / this.bpm;
      const first = Math.ceil(this.anchor.beat + (now - SPAN_S * PLAYHEAD - this.anchor.time) / secPerBeat);
      for (let b = first; ; b++) {
        const bx = x(this.anchor.time + (b - this.anchor.beat) * secPerBeat);
        if (bx > w) break;
        const bar = ((b % this.beatsPerBar) + this.beatsPerBar) % this.beatsPerBar === 0;
        ctx.fillStyle = bar ? "rgba(255,255,255,0.22)" : "rgba(255,255,255,0.08)";
        ctx.fillRect(Math.round(bx), 0, bar ? 2 : 1, h);
      }
    }
    for (const n of visible) {
      const hue = HUES[this.voices.indexOf(n.voice) % HUES.length];
      const light = 35 + (n.velocity / 127) * 40;
      const playing = n.time <= now && now <= n.time + n.duration;
      ctx.fillStyle = `hsla(${hue}, 85%, ${light}%, ${playing ? 1 : 0.8})`;
      const x0 = x(n.time), x1 = x(n.time + n.duration);
      ctx.fillRect(x0, y(n.pitch) - rowH / 2, Math.max(3, x1 - x0 - 1), rowH);
    }
    ctx.fillStyle = "rgba(255,255,255,0.5)";
    ctx.fillRect(Math.round(w * PLAYHEAD), 0, 1, h);
  }
}
