// Web MIDI out: the music voices' notes to a synth the browser sees (off until a click), each
// voice on its own channel, note-on and note-off timed by the browser at the note's due time.

export class MidiOut {
  constructor() {
    this.output = null;
  }

  get on() { return this.output !== null; }

  /** Open the first MIDI output; the port's name, or an Error saying why not. */
  async start() {
    if (!navigator.requestMIDIAccess) throw new Error("this browser has no Web MIDI");
    const access = await navigator.requestMIDIAccess();
    const [output] = access.outputs.values();
    if (!output) throw new Error("no MIDI output port (connect a synth or a virtual port)");
    this.output = output;
    return output.name;
  }

  stop() {
    if (this.output) this.output.send([0xb0, 123, 0]);  // all notes off
    this.output = null;
  }

  note(n) {
    if (!this.output) return;
    const channel = ((n.channel || 1) - 1) & 15;
    const at = performance.now() + Math.max(0, (n.time - Date.now() / 1000) * 1000);
    this.output.send([0x90 | channel, n.pitch & 127, Math.max(1, Math.min(127, n.velocity))], at);
    this.output.send([0x80 | channel, n.pitch & 127, 0], at + n.duration * 1000);
  }
}
