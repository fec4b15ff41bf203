// The stream on a full-window canvas: aspect kept, newest frame wins, the browser's smooth upscale.

export class View {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: false });
    this.image = null;
    this.info = null;
    this.dirty = false;
    this.drawn = 0;  // frames drawn since the start
    this.onDraw = () => {};
    this.resize();
    addEventListener("resize", () => this.resize());
    requestAnimationFrame(() => this.tick());
  }

  // The backing store matches the screen's pixels, so the upscale is done once, smoothly, here.
  resize() {
    const dpr = devicePixelRatio || 1;
    const w = Math.round(innerWidth * dpr), h = Math.round(innerHeight * dpr);
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
      this.dirty = this.image !== null;
    }
  }

  /** Take a decoded frame; only the newest is drawn at the next display refresh. */
  show(image, info) {
    if (this.image && this.image !== image && this.image.close) this.image.close();
    this.image = image;
    this.info = info;
    this.dirty = true;
  }

  tick() {
    if (this.dirty && this.image) {
      this.dirty = false;
      this.draw();
      this.info.drawnAt = performance.now();
      this.drawn++;
      this.onDraw(this.info);
    }
    requestAnimationFrame(() => this.tick());
  }

  draw() {
    const { canvas, ctx, image } = this;
    const iw = image.videoWidth || image.width, ih = image.videoHeight || image.height;  // a <video> too
    const scale = Math.min(canvas.width / iw, canvas.height / ih);
    const w = iw * scale, h = ih * scale;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(image, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
  }
}

/** Counts per second and the control-to-frame latency from stamps, for the HUD. */
export class Meter {
  constructor() {
    this.pending = [];  // [{stamp, sentAt}] changes this page made, waiting for a frame
    this.latencyMs = null;
    this.received = 0; this.drawn = 0;
    this.rates = { received: 0, drawn: 0 };
    setInterval(() => {
      this.rates = { received: this.received, drawn: this.drawn };
      this.received = 0; this.drawn = 0;
    }, 1000);
  }

  /** A change this page sent, acked with its stamp. */
  sent(stamp, sentAt) {
    this.pending.push({ stamp, sentAt });
    if (this.pending.length > 64) this.pending.shift();
  }

  /** A frame drawn: the first one whose stamp reaches a change's stamp shows that change. */
  drew(info) {
    this.drawn++;
    while (this.pending.length && info.stamp >= this.pending[0].stamp) {
      this.latencyMs = info.drawnAt - this.pending.shift().sentAt;
    }
  }
}
