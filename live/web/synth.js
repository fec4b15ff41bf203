// An optional synth in the page: one WebAudio voice per music voice, off until a click starts it
// (browsers allow sound only after a gesture). Notes play at their due time.

const WAVES = ["triangle", "sawtooth", "square", "sine"];

export class Synth {
  constructor() {
    this.ctx = null;
    this.voices = [];
  }

  get on() { return this.ctx !== null && this.ctx.state === "running"; }

  async start() {
    this.ctx = new AudioContext({ latencyHint: "interactive" });
    this.out = this.ctx.createDynamicsCompressor();
    this.master = this.ctx.createGain();
    this.master.gain.value = 0.25;
    this.master.connect(this.out).connect(this.ctx.destination);
    await this.ctx.resume();
  }

  async stop() {
    if (this.ctx) await this.ctx.close();
    this.ctx = null;
  }

  note(n) {
    if (!this.on) return;
    if (!this.voices.includes(n.voice)) this.voices.push(n.voice);
    const ctx = this.ctx, wave = WAVES[this.voices.indexOf(n.voice) % WAVES.length];
    const start = ctx.currentTime + Math.max(0, n.time - Date.now() / 1000);
    const end = start + Math.max(0.05, n.duration);
    const osc = ctx.createOscillator(), filter = ctx.createBiquadFilter(), env = ctx.createGain();
    osc.type = wave;
    osc.frequency.value = 440 * 2 ** ((n.pitch - 69) / 12);
    filter.type = "lowpass";
    filter.frequency.value = 1200 + n.velocity * 20;
    const peak = 0.05 + (n.velocity / 127) * 0.25;
    env.gain.setValueAtTime(0, start);
    env.gain.linearRampToValueAtTime(peak, start + 0.008);
    env.gain.setTargetAtTime(peak * 0.6, start + 0.01, 0.1);
    env.gain.setTargetAtTime(0, end, 0.05);
    osc.connect(filter).connect(env).connect(this.master);
    osc.start(start);
    osc.stop(end + 0.4);
  }
}
