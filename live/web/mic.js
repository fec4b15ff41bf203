// The room's audio: the microphone through an AnalyserNode, band levels (low, mid, high),
// loudness and onsets computed here, sent as /audio/... parameters for mappings and modulators.

const BANDS = { low: [20, 250], mid: [250, 2000], high: [2000, 8000] };
const TICK_MS = 50;  // 20 analyses a second: enough for a beat, light on the server
const RELEASE = 0.85;  // per tick: levels rise at once and fall smoothly

export class Mic {
  constructor(send, prefix = "/audio") {
    this.send = send;  // (path, value)
    this.prefix = prefix;
    this.levels = { low: 0, mid: 0, high: 0, loudness: 0, onset: 0 };
    this.sent = {};
    this.slow = 0;  // a slow average of loudness: an onset is a jump above it
    this.lastOnset = 0;
    this.timer = null;
  }

  get on() { return this.timer !== null; }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    this.ctx = new AudioContext();
    // Not awaited: without a gesture (a kiosk's ?mic) it resumes only where the browser's autoplay
    // policy allows, and the levels stay 0 meanwhile instead of the page waiting forever.
    this.ctx.resume().catch(() => {});
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 2048;
    this.analyser.smoothingTimeConstant = 0.2;
    this.ctx.createMediaStreamSource(this.stream).connect(this.analyser);
    this.freq = new Float32Array(this.analyser.frequencyBinCount);
    this.wave = new Float32Array(this.analyser.fftSize);
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  async stop() {
    clearInterval(this.timer);
    this.timer = null;
    for (const t of this.stream?.getTracks() || []) t.stop();
    if (this.ctx) await this.ctx.close();
    for (const name of Object.keys(this.levels)) this.levels[name] = 0;
    this.flush(true);
  }

  tick() {
    const a = this.analyser;
    a.getFloatFrequencyData(this.freq);
    a.getFloatTimeDomainData(this.wave);
    const hzPerBin = this.ctx.sampleRate / a.fftSize;
    for (const [name, [lo, hi]] of Object.entries(BANDS)) {
      let power = 0, n = 0;
      for (let i = Math.max(1, Math.floor(lo / hzPerBin)); i <= Math.min(this.freq.length - 1, hi / hzPerBin); i++) {
        power += 10 ** (this.freq[i] / 10);  // dB to power; silence (-Infinity) adds 0
        n++;
      }
      const db = 10 * Math.log10(power / Math.max(1, n) + 1e-12);
      this.level(name, (db + 90) / 60);  // -90 dB: nothing, -30 dB: full
    }
    let sum = 0;
    for (const x of this.wave) sum += x * x;
    const dbfs = 20 * Math.log10(Math.sqrt(sum / this.wave.length) + 1e-9);
    const loud = Math.min(1, Math.max(0, (dbfs + 60) / 60));
    this.level("loudness", loud);
    const now = performance.now();
    if (loud - this.slow > 0.12 && now - this.lastOnset > 120) {
      this.lastOnset = now;
      this.levels.onset = 1;
    } else {
      this.levels.onset *= 0.6;
    }
    this.slow += (loud - this.slow) * 0.15;
    this.flush(false);
  }

  level(name, x) {
    const v = Math.min(1, Math.max(0, x));
    this.levels[name] = Math.max(v, this.levels[name] * RELEASE);
  }

  // Send what moved (by 0.02 or more, or to zero), rounded: the registry takes a stamp per change.
  flush(all) {
    for (const [name, raw] of Object.entries(this.levels)) {
      const v = raw < 0.005 ? 0 : Math.round(raw * 1000) / 1000;
      const last = this.sent[name];
      if (all || last === undefined || Math.abs(v - last) >= 0.02 || (v === 0 && last !== 0)) {
        this.sent[name] = v;
        this.send(`${this.prefix}/${name}`, v);
      }
    }
  }
}
