// Controls built from GET /schema, grouped by voice; each follows the live value (topic `param`)
// whatever changed it, and shows the server's error beside itself when a value is refused.

const el = (tag, { dataset, ...props } = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  Object.assign(node.dataset, dataset || {});
  node.append(...children);
  return node;
};
const SLIDER_INT_SPAN = 256;  // ints with a range this small get a slider too
const decimals = (lo, hi) => (hi - lo <= 2 ? 3 : hi - lo <= 20 ? 2 : 1);

export class Controls {
  constructor(box, lg, meter) {
    this.box = box;
    this.lg = lg;
    this.meter = meter;
    this.controls = new Map();  // path -> {show(value), error(text)}
    this.inFlight = new Set();  // paths with a set on its way: one at a time, newest value waits
    this.waiting = new Map();  // path -> newest value not yet sent
    this.commands = new Set();
    this.params = new Map();
  }

  /** (Re)build every control from a schema and the voices of a status. */
  build(schema, voices) {
    this.box.replaceChildren();
    this.controls.clear();
    this.commands = new Set(schema.commands || []);
    this.params = new Map(schema.params.map((p) => [p.path, p]));
    const groups = new Map(Object.keys(voices).map((name) => [name, []]));
    for (const p of schema.params) {
      const group = p.path.split("/")[1];
      if (group === "preset") continue;  // the presets box shows these
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group).push(p);
    }
    for (const [name, params] of groups) {
      const rows = params.map((p) => this.control(p)).filter(Boolean);
      if (!rows.length) continue;
      const kind = voices[name] ? voices[name].kind : "";
      this.box.append(el("section", { className: "group", dataset: { group: name } },
        el("h3", { textContent: kind && kind !== name ? `${name} · ${kind}` : name }), ...rows));
    }
  }

  /** A value from the server (param topic, a get): every control of that path follows it. */
  update(path, value) {
    const c = this.controls.get(path);
    if (c && !c.busy()) c.show(value);
    const p = this.params.get(path);
    if (p) p.value = value;
  }

  showError(path, text) {
    const c = this.controls.get(path);
    if (c) c.error(text);
    return Boolean(c);
  }

  /** Set a parameter: one request per path in flight, the newest value waiting behind it. */
  send(path, value) {
    if (this.inFlight.has(path)) { this.waiting.set(path, value); return; }
    this.inFlight.add(path);
    const sentAt = performance.now();
    this.lg.set(path, value).then((stamp) => {
      this.meter.sent(stamp, sentAt);
      this.showError(path, "");
    }).catch((e) => {
      this.showError(path, e.message);
      const c = this.controls.get(path), p = this.params.get(path);
      if (c && p) c.show(p.value);  // refused: nothing changed, show what is in force
    }).finally(() => {
      this.inFlight.delete(path);
      if (this.waiting.has(path)) {
        const next = this.waiting.get(path);
        this.waiting.delete(path);
        this.send(path, next);
      }
    });
  }

  /** Nudge a 2-vector (the XY pad) by dx, dy, clamped to its range. */
  nudge(path, dx, dy) {
    const p = this.params.get(path);
    if (!p) return;
    const [lo, hi] = p.range;
    const clamp = (v) => Math.min(hi, Math.max(lo, Math.round(v * 1000) / 1000));
    const value = [clamp(p.value[0] + dx), clamp(p.value[1] + dy)];
    p.value = value;
    this.controls.get(path)?.show(value);
    this.send(path, value);
  }

  control(p) {
    const name = p.path.split("/").slice(2).join("/");
    const label = el("span", { className: "name", textContent: name, title: `${p.path}: ${p.doc}` });
    const errorEl = el("div", { className: "error", dataset: { path: p.path } });
    const row = el("div", { className: "control", dataset: { path: p.path, type: p.type } });
    let parts = null;
    if (p.type === "float" || p.type === "int") parts = this.number(p);
    else if (p.type === "bool") parts = this.toggle(p);
    else if (p.type === "choice") parts = this.choice(p);
    else if (p.type === "vector" && p.size === 2 && p.path.endsWith("/xy")) parts = this.xy(p);
    else if (p.type === "string" || p.type === "phrase") parts = this.text(p);
    if (!parts) return null;  // a latent (nz numbers) has no control here; presets and bookmarks do
    row.append(label, ...parts.nodes, errorEl);
    this.controls.set(p.path, {
      show: parts.show, busy: parts.busy || (() => false),
      error: (text) => { errorEl.textContent = text; },
    });
    parts.show(p.value);
    return row;
  }

  number(p) {
    const [lo, hi] = p.range;
    const finite = Number.isFinite(lo) && Number.isFinite(hi);
    const isInt = p.type === "int";
    const nodes = [];
    let dragging = false;
    const box = el("input", { type: "number", title: p.doc, step: isInt ? 1 : "any" });
    box.setAttribute("aria-label", p.path);
    box.onchange = () => { if (box.value !== "") this.send(p.path, Number(box.value)); };
    let slider = null;
    if (finite && (!isInt || hi - lo <= SLIDER_INT_SPAN)) {
      slider = el("input", { type: "range", min: lo, max: hi, step: isInt ? 1 : "any",
        title: p.doc });
      slider.setAttribute("aria-label", p.path);
      slider.oninput = () => {
        const v = Number(slider.value);
        box.value = isInt ? v : v.toFixed(decimals(lo, hi));
        this.send(p.path, v);
      };
      slider.onpointerdown = () => { dragging = true; };
      slider.onpointerup = slider.onpointercancel = () => { dragging = false; };
      nodes.push(slider);
    }
    const right = el("span", {}, box, el("span", { className: "unit", textContent: p.unit ? ` ${p.unit}` : "" }));
    if (!slider) nodes.push(el("span"));
    nodes.push(right);
    if (p.path.endsWith("/seed")) nodes.push(this.seedButtons(p));
    return {
      nodes,
      busy: () => dragging || document.activeElement === box,
      show: (v) => {
        if (slider) slider.value = v;
        box.value = isInt || !finite ? v : Number(v).toFixed(decimals(lo, hi));
      },
    };
  }

  // A new seed, and the voice's bookmarks where the server offers them (/schema commands).
  seedButtons(p) {
    const voice = p.path.split("/")[1];
    const buttons = el("div", { className: "buttons" },
      el("button", { type: "button", textContent: "new seed", title: "jump to a random seed",
        onclick: () => this.send(p.path, Math.floor(Math.random() * 2 ** 31)) }));
    const store = `/${voice}/bookmark/store`, recall = `/${voice}/bookmark/recall`;
    if (this.commands.has(store) && this.commands.has(recall)) {
      const slot = el("input", { type: "number", min: 0, max: 999, value: 1, title: "bookmark slot" });
      slot.style.width = "48px";
      const call = (address) => this.lg.call(address, Number(slot.value))
        .then(() => this.showError(p.path, ""))
        .catch((e) => this.showError(p.path, e.message));
      buttons.append(
        el("button", { type: "button", textContent: "bookmark", title: "keep this latent in the slot",
          onclick: () => call(store) }),
        el("button", { type: "button", textContent: "go", title: "recall the slot's latent",
          onclick: () => call(recall) }), slot);
    }
    return buttons;
  }

  toggle(p) {
    // "any value" parameters (panic, reset) are actions: a button, not a box to tick.
    if (/\bany value\b/i.test(p.doc)) {
      const button = el("button", { type: "button", textContent: p.path.split("/").pop(), title: p.doc,
        onclick: () => this.send(p.path, true) });
      return { nodes: [button, el("span")], show: () => {} };
    }
    const box = el("input", { type: "checkbox", title: p.doc });
    box.setAttribute("aria-label", p.path);
    box.onchange = () => this.send(p.path, box.checked);
    return { nodes: [box, el("span")], show: (v) => { box.checked = Boolean(v); } };
  }

  choice(p) {
    const select = el("select", { title: p.doc });
    select.setAttribute("aria-label", p.path);
    for (const c of p.choices) select.append(new Option(c, c));
    select.onchange = () => this.send(p.path, select.value);
    return { nodes: [select, el("span")], show: (v) => { select.value = v; } };
  }

  text(p) {
    const input = el("input", { type: "text", title: p.doc, placeholder: p.type === "phrase" ? "C4 E4 G4 or 60 64 67" : "" });
    input.setAttribute("aria-label", p.path);
    input.onkeydown = (e) => { if (e.key === "Enter") this.send(p.path, input.value); };
    return {
      nodes: [input, el("span")],
      busy: () => document.activeElement === input,
      show: (v) => { input.value = Array.isArray(v) ? v.join(" ") : v ?? ""; },
    };
  }

  xy(p) {
    const [lo, hi] = p.range;
    const pad = el("div", { className: "xy", title: `${p.path}: ${p.doc}` });
    pad.setAttribute("aria-label", p.path);
    const dot = el("div", { className: "dot" });
    pad.append(dot);
    let dragging = false;
    const at = (ev) => {
      const r = pad.getBoundingClientRect();
      const fx = Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width));
      const fy = Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height));
      const round = (v) => Math.round(v * 1000) / 1000;
      return [round(lo + fx * (hi - lo)), round(hi - fy * (hi - lo))];  // up is +y
    };
    const show = (v) => {
      dot.style.left = `${((v[0] - lo) / (hi - lo)) * 100}%`;
      dot.style.top = `${((hi - v[1]) / (hi - lo)) * 100}%`;
    };
    pad.onpointerdown = (ev) => {
      dragging = true;
      pad.setPointerCapture(ev.pointerId);
      const v = at(ev); show(v); this.params.get(p.path).value = v; this.send(p.path, v);
    };
    pad.onpointermove = (ev) => {
      if (!dragging) return;
      const v = at(ev); show(v); this.params.get(p.path).value = v; this.send(p.path, v);
    };
    pad.onpointerup = pad.onpointercancel = () => { dragging = false; };
    return { nodes: [pad], show, busy: () => dragging };
  }
}
