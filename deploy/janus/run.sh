#!/bin/sh
# Start Janus with livegen's config (deploy/janus): HTTP API on :8088/janus, mountpoint 1 taking
# VP8 RTP on UDP 5004. Then run livegen with a patch that has
#   [outputs.audience]  kind = "janus"  voice = "visual"  rtp = "127.0.0.1:5004"
# and open http://127.0.0.1:8765/webrtc.html?janus=http://127.0.0.1:8088/janus&mount=1
set -e
here=$(cd "$(dirname "$0")" && pwd)
command -v janus >/dev/null || { echo "janus is not installed (apt-get install janus; make deps)" >&2; exit 1; }
exec janus -F "$here" -C "$here/janus.jcfg" -o "$@"
