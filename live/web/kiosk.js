// Gallery mode (?kiosk): no panel, no cursor, the screen kept awake, and a page that mends itself:
// the socket reconnects forever (livegen.js), and if frames stop while the server answers, reload.

const STALL_MS = 20000;  // no frame drawn for this long: something is stuck (?stall=SECONDS)
const RELOAD_EVERY_MS = 120000;  // and reload at most this often, so a voiceless server is no loop

export function startKiosk(view, stallMs = STALL_MS) {
  document.body.classList.add("kiosk");
  let lock = null;
  const wake = async () => {
    try {
      if ("wakeLock" in navigator && document.visibilityState === "visible") {
        lock = await navigator.wakeLock.request("screen");
      }
    } catch {
      lock = null;  // not allowed here (no gesture, a headless browser): the screen saver decides
    }
  };
  document.addEventListener("visibilitychange", () => { if (!lock || lock.released) wake(); });
  wake();
  const loadedAt = performance.now();
  let lastDrawn = view.drawn, lastChange = loadedAt;
  setInterval(async () => {
    const now = performance.now();
    if (view.drawn !== lastDrawn) { lastDrawn = view.drawn; lastChange = now; return; }
    if (now - lastChange < stallMs) return;
    const last = Number(sessionStorage.getItem("livegen-reload") || 0);
    if (Date.now() - last < RELOAD_EVERY_MS) return;
    try {
      // Reload only when the server answers: a reload while it is down would leave an error page.
      const r = await fetch("/status", { cache: "no-store" });
      if (!r.ok) return;
    } catch {
      return;  // down: the socket keeps trying, with backoff
    }
    sessionStorage.setItem("livegen-reload", String(Date.now()));
    location.reload();
  }, Math.min(5000, stallMs / 2));
  return { get wakeLock() { return lock !== null && !lock.released; } };
}
