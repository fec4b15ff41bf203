// WebRTC when the server offers it: a `webrtc` output for the shown voice (GET /status
// `outputs`) plays as a video track; frames over the WebSocket stay the fallback.

const FAIL_STATES = ["failed", "closed"];

/** The signalling address of a webrtc output for this voice, or null when none is on. */
export function offered(status, voice) {
  const found = Object.values(status.outputs || {}).find((o) => o.kind === "webrtc" && o.voice === voice
    && o.url && o.state === "on");
  return found ? signalling(found.url) : null;
}

/** A webrtc output's address as this page reaches it, with the page's ?token= if it has one. */
export function signalling(url) {
  const token = new URLSearchParams(location.search).get("token");
  return url.replace("127.0.0.1", location.hostname) + (token ? `?token=${encodeURIComponent(token)}` : "");
}

export class RtcStream {
  constructor(url, onFrame, onState) {
    this.url = url;
    this.onFrame = onFrame;  // (video, {width, height}) for every frame presented
    this.onState = onState;  // "connecting" | "connected" | "failed"
    this.video = Object.assign(document.createElement("video"), { muted: true, autoplay: true,
      playsInline: true });
    this.pc = null;
    this.ws = null;
  }

  async start() {
    this.onState("connecting");
    const pc = this.pc = new RTCPeerConnection({ iceServers: [] });
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.ontrack = (ev) => {
      this.video.srcObject = new MediaStream([ev.track]);
      this.video.play().catch(() => {});
      const each = (now, meta) => {
        this.onFrame(this.video, { width: meta.width, height: meta.height });
        this.video.requestVideoFrameCallback(each);
      };
      this.video.requestVideoFrameCallback(each);
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected") this.onState("connected");
      else if (FAIL_STATES.includes(pc.connectionState) || pc.connectionState === "disconnected") this.fail();
    };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {  // the offer carries every candidate: no trickle
      if (pc.iceGatheringState === "complete") resolve();
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") resolve();
      });
    });
    const ws = this.ws = new WebSocket(this.url);
    ws.onopen = () => ws.send(JSON.stringify({ op: "offer", sdp: pc.localDescription.sdp }));
    ws.onmessage = async (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.op === "answer") await pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
      else this.fail();  // refused (too many viewers, ...)
    };
    ws.onerror = () => this.fail();
    ws.onclose = () => this.fail();
  }

  fail() {
    if (this.failed) return;
    this.failed = true;
    this.stop();
    this.onState("failed");
  }

  stop() {
    if (this.ws) { this.ws.onclose = null; this.ws.close(); }
    if (this.pc) this.pc.close();
    this.video.srcObject = null;
  }
}
