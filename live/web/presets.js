// Presets: recall, store, quantise and a morph slider, each shown only where the server's /schema
// offers it (commands /preset/..., parameters /preset/from, /preset/to, /preset/position).

const el = (tag, { dataset, ...props } = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  Object.assign(node.dataset, dataset || {});
  node.append(...children);
  return node;
};

export class PresetPanel {
  constructor(box, lg, controls) {
    this.box = box;
    this.lg = lg;
    this.controls = controls;
    this.names = [];
    this.selects = [];
  }

  build(schema) {
    const commands = new Set(schema.commands || []);
    const params = new Set(schema.params.map((p) => p.path));
    const morph = ["/preset/from", "/preset/to", "/preset/position"].every((p) => params.has(p));
    this.box.replaceChildren();
    this.selects = [];
    const offered = commands.has("/preset/recall") || commands.has("/preset/store") || morph;
    this.box.classList.toggle("hidden", !offered);
    if (!offered) return;
    this.errorEl = el("div", { className: "error" });
    this.box.append(el("h3", { textContent: "presets" }));
    if (commands.has("/preset/recall")) {
      const pick = this.select("preset to recall");
      this.box.append(row("recall", pick, el("button", { type: "button", textContent: "recall",
        onclick: () => this.call("/preset/recall", pick.value) })));
    }
    if (commands.has("/preset/store")) {
      const name = el("input", { type: "text", placeholder: "name", title: "store every value under this name" });
      this.box.append(row("store", name, el("button", { type: "button", textContent: "store",
        onclick: () => { if (name.value.trim()) this.call("/preset/store", name.value.trim()); } })));
    }
    if (commands.has("/preset/quantise")) {
      const q = el("select", { title: "recalls and morphs wait for the next beat or bar" });
      for (const u of ["none", "beat", "bar"]) q.append(new Option(u, u));
      q.onchange = () => this.call("/preset/quantise", q.value);
      this.box.append(row("quantise", q, el("span")));
    }
    if (morph) {
      // From and to are parameters too: dropdowns that set them, the morph slider between.
      for (const path of ["/preset/from", "/preset/to"]) {
        const pick = this.select(path);
        pick.dataset.path = path;
        pick.onchange = () => this.controls.send(path, pick.value);
        const p = schema.params.find((x) => x.path === path);
        this.controls.controls.set(path, { show: (v) => { pick.dataset.value = v; pick.value = v; },
          busy: () => false, error: (t) => { this.errorEl.textContent = t; } });
        pick.dataset.value = p.value;
        this.box.append(row(path.split("/").pop(), pick, el("span")));
      }
      const position = schema.params.find((p) => p.path === "/preset/position");
      this.box.append(this.controls.control(position));
    }
    this.box.append(this.errorEl);
    this.setNames(this.names, true);
  }

  select(title) {
    const s = el("select", { title });
    this.selects.push(s);
    return s;
  }

  /** The preset names (from /status control.presets), into every dropdown. */
  setNames(names, force = false) {
    // Status comes every second: rebuilding unchanged options would close an open dropdown.
    if (!force && names.join("\n") === this.names.join("\n")) return;
    this.names = names;
    for (const s of this.selects) {
      const keep = s.dataset.value ?? s.value;
      s.replaceChildren(new Option("–", ""), ...names.map((n) => new Option(n, n)));
      s.value = names.includes(keep) ? keep : "";
    }
  }

  call(address, ...args) {
    this.lg.call(address, ...args)
      .then(() => { this.errorEl.textContent = ""; })
      .catch((e) => { this.errorEl.textContent = e.message; });
  }
}

function row(name, ...parts) {
  return el("div", { className: "control" }, el("span", { className: "name", textContent: name }), ...parts);
}
