// The text voice as a typewriter overlay: characters as they come, lines that fade, and a
// prompt (the audience's or the performer's) shown as theirs before the voice continues it.

const MAX_LINES = 6;
const FADE_AFTER_MS = 8000;  // a finished line stays this long, then fades (CSS transition)

export class Words {
  constructor(box) {
    this.box = box;
    this.current = null;
    this.chars = 0;  // characters shown since the start (tests read it)
  }

  line(className = "line") {
    const div = document.createElement("div");
    div.className = className;
    this.box.append(div);
    while (this.box.children.length > MAX_LINES) this.box.firstElementChild.remove();
    return div;
  }

  finish(div) {
    if (!div) return;
    div.classList.remove("cursor");
    setTimeout(() => div.classList.add("old"), FADE_AFTER_MS);
    setTimeout(() => div.remove(), FADE_AFTER_MS + 4500);
  }

  /** One character (or a few) from the text voice. */
  char(text) {
    for (const c of text) {
      if (c === "\n") { this.finish(this.current); this.current = null; continue; }
      if (!this.current) { this.current = this.line(); this.current.classList.add("cursor"); }
      this.current.textContent += c;
      this.chars++;
    }
  }

  /** A prompt the voice will continue from, labelled with who wrote it. */
  prompt(text, who) {
    this.finish(this.current);
    this.current = null;
    const div = this.line("line prompt");
    div.dataset.who = who;
    div.textContent = text.trim();
    this.finish(div);
  }
}
