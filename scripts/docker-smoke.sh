#!/usr/bin/env bash
# Build the Dockerfile and run the image on a machine without a Docker engine, then push one tiny job
# through the API and download its PNG. Slow (minutes: it installs TensorFlow into the image); CI runs
# it while the tests run (.ci/run), and you can run it by hand after changing the Dockerfile:
#
#   sudo scripts/docker-smoke.sh            # as root; Debian 12 (bookworm) host
#
# How, and what differs from a real `docker build`:
# - No Docker engine and no image registry here, so Debian's buildah, podman and runc stand in:
#   `buildah bud --isolation=chroot` builds, `podman --runtime runc run --network=host` runs.
# - python:3.11-slim cannot be pulled. The base image is made locally instead: a Debian bookworm rootfs
#   from debootstrap (minbase + Debian's python3 3.11, python3-venv, ca-certificates), from the mirror
#   this machine's apt already uses (scripts/apt_mirror.py reads /etc/apt/sources.list{,.d/}), imported as
#   localhost/impasto-smoke-base:bookworm, and passed with --build-arg PYTHON_IMAGE=... (the Dockerfile's
#   FROM lines use that argument; its default is python:3.11-slim). So this checks the Dockerfile's steps
#   on Debian's Python 3.11, not on the official image's /usr/local Python 3.11.
# - Package traffic here is TLS-intercepted: the host's CA bundle (and a pip.conf naming it) are mounted
#   into the build's RUN steps only. Nothing of it is written into the image or the Dockerfile.
# - --build-arg FETCH_WEIGHTS=0: the ImageNet weights cannot be downloaded here. The container gets the
#   stand-in weights file mounted read-only and IMPASTO_VGG_WEIGHTS pointing at it.
#
# Settings (environment):
#   IMPASTO_SMOKE_CACHE        cache folder for the debootstrap rootfs tarball (default /var/tmp/impasto-docker);
#                              the tarball and the imported base image are kept there and reused by later runs
#   IMPASTO_SMOKE_MIRROR       Debian mirror for debootstrap (default: the host's own apt source for bookworm)
#   IMPASTO_SMOKE_WEIGHTS_DIR  folder holding the weights file (default <repo>/../shared/weights)
#   IMPASTO_SMOKE_WEIGHTS_FILE its file name (default vgg16_hed_notop.weights.h5)
#   IMPASTO_SMOKE_PORT         host port (default 8000, the image's own CMD, or a free port when 8000 is taken;
#                              another port overrides the CMD)
#   IMPASTO_SMOKE_KEEP=1       leave the container running at the end
#   IMPASTO_SMOKE_REBUILD_BASE=1  rebuild the base image from scratch
# Exit status 0 only if the image built, /healthz answered, the job finished, its PNG downloaded, the
# container ran as a user other than root and the studio page rendered.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${IMPASTO_SMOKE_CACHE:-/var/tmp/impasto-docker}
BASE=localhost/impasto-smoke-base:bookworm
IMAGE=localhost/impasto:smoke
NAME=impasto-smoke-$$
WEIGHTS_DIR=${IMPASTO_SMOKE_WEIGHTS_DIR:-$ROOT/../shared/weights}
WEIGHTS_FILE=${IMPASTO_SMOKE_WEIGHTS_FILE:-vgg16_hed_notop.weights.h5}
PORT=${IMPASTO_SMOKE_PORT:-8000}
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
START=$SECONDS

log() { printf '[smoke %4ds] %s\n' "$((SECONDS - START))" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (buildah/podman with chroot isolation and runc)"
[ -f "$ROOT/README.md" ] || die "README.md is missing: the build copies it (pyproject.toml's readme)"
[ -f "$WEIGHTS_DIR/$WEIGHTS_FILE" ] || die "weights file not found: $WEIGHTS_DIR/$WEIGHTS_FILE"
WEIGHTS_DIR=$(cd "$WEIGHTS_DIR" && pwd)
mkdir -p "$CACHE"

# ---- tools ----
need=()
for tool in buildah podman runc debootstrap; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq buildah podman runc debootstrap fuse-overlayfs uidmap >/dev/null
fi

# ---- base image: Debian bookworm + python3, standing in for python:3.11-slim ----
t0=$SECONDS
if [ "${IMPASTO_SMOKE_REBUILD_BASE:-0}" = 1 ]; then
  podman rmi -f "$BASE" >/dev/null 2>&1 || true
  rm -f "$CACHE/bookworm-python3.tar"
fi
if ! podman image exists "$BASE"; then
  tarball=$CACHE/bookworm-python3.tar
  if [ ! -s "$tarball" ]; then
    rootfs=$CACHE/rootfs
    rm -rf "$rootfs"
    mirror=${IMPASTO_SMOKE_MIRROR:-$(python3 "$ROOT/scripts/apt_mirror.py" bookworm)} \
      || die "no Debian bookworm mirror in this machine's apt sources: set IMPASTO_SMOKE_MIRROR"
    log "debootstrap mirror: $mirror (from the host's apt sources)"
    log "debootstrap bookworm into $rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      bookworm "$rootfs" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
      || die "debootstrap failed; see $CACHE/debootstrap.log"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" --numeric-owner -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  log "importing $tarball as $BASE"
  podman import --change 'CMD ["/bin/bash"]' "$tarball" "$BASE" >/dev/null 2>&1
fi
log "base image ready ($((SECONDS - t0)) s)"

# ---- build ----
t0=$SECONDS
pipconf=$(mktemp)
trap 'rm -f "$pipconf"' EXIT
printf '[global]\ncert = %s\n' "$CA_BUNDLE" >"$pipconf"
old_image=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
log "buildah bud (FETCH_WEIGHTS=0, base $BASE)"
buildah bud --isolation=chroot --format docker --layers \
  --build-arg PYTHON_IMAGE="$BASE" --build-arg FETCH_WEIGHTS=0 \
  --volume "$CA_BUNDLE:$CA_BUNDLE:ro" --volume "$pipconf:/etc/pip.conf:ro" \
  -t "$IMAGE" -f "$ROOT/Dockerfile" "$ROOT" >"$CACHE/build.log" 2>&1 \
  || { tail -n 30 "$CACHE/build.log" >&2; die "build failed; see $CACHE/build.log"; }
build_s=$((SECONDS - t0))
# The previous smoke image, untagged by this build, would fill the disk run after run: remove it (only
# it: the image store is the machine's, shared with whatever else builds here).
new_image=$(podman image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$old_image" ] && [ "$old_image" != "$new_image" ]; then podman rmi "$old_image" >/dev/null 2>&1 || true; fi
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
log "built $IMAGE in $build_s s ($((size / 1000000)) MB)"

# ---- run ----
port_busy() {
  python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)  # in use
sys.exit(1)
EOF
}
if port_busy "$PORT"; then
  [ -z "${IMPASTO_SMOKE_PORT:-}" ] || die "port $PORT is in use on this host (podman runs with --network=host)"
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  log "port 8000 is in use on this host: using $PORT (the image's HEALTHCHECK, which probes 8000, is skipped)"
fi
command=()
[ "$PORT" = 8000 ] || command=(impasto serve --host 127.0.0.1 --port "$PORT")
cleanup() {
  status=$?
  rm -f "$pipconf"
  if [ "$status" -ne 0 ]; then
    log "container log (last 40 lines):"
    podman logs --tail 40 "$NAME" >&2 2>&1 || true
  fi
  if [ "${IMPASTO_SMOKE_KEEP:-0}" = 1 ]; then
    log "container $NAME left running (podman rm -f -v $NAME)"
  else
    # (podman may complain that it cannot remove a systemd healthcheck timer: there is none; harmless.)
    podman rm -f -v "$NAME" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
t0=$SECONDS
# Explicit limits: podman's defaults (and even `--ulimit host`) exceed what runc may set here ("error setting
# rlimit type 7/6: operation not permitted"). --health-interval=disable: no systemd here to run the
# HEALTHCHECK on a timer; it is run once by hand below instead.
nofile=$(ulimit -Hn)
podman --runtime runc run -d --name "$NAME" --network=host \
  --ulimit "nofile=$nofile:$nofile" --ulimit nproc=8192:8192 --health-interval=disable \
  -v "$WEIGHTS_DIR:/weights:ro" -e IMPASTO_VGG_WEIGHTS="/weights/$WEIGHTS_FILE" \
  "$IMAGE" "${command[@]}" >/dev/null 2>"$CACHE/run.err" || { cat "$CACHE/run.err" >&2; die "podman run failed"; }
# (podman says it cannot reach systemd to schedule the healthcheck timer: expected here)
grep -v 'systemd connection' "$CACHE/run.err" >&2 || true
log "started $NAME on port $PORT; waiting for /healthz"

# ---- check it over HTTP (Python's standard library only) ----
IMPASTO_SMOKE_URL="http://127.0.0.1:$PORT" IMPASTO_SMOKE_OUT="$CACHE/smoke-result.png" python3 - <<'EOF'
import json, os, struct, sys, time, urllib.error, urllib.request, uuid, zlib

base = os.environ["IMPASTO_SMOKE_URL"]


def say(message):
    print(f"[smoke] {message}", file=sys.stderr, flush=True)


def get(path, timeout=10):
    with urllib.request.urlopen(base + path, timeout=timeout) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


def png(width, height, pixel):
    rows = b"".join(b"\0" + bytes(v for x in range(width) for v in pixel(x, y)) for y in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


started = time.monotonic()
while True:
    try:
        status, _, body = get("/healthz", timeout=3)
        if status == 200:
            say(f"/healthz answered after {time.monotonic() - started:.1f} s: {body.decode()[:200]}")
            break
    except (urllib.error.URLError, ConnectionError, OSError):
        pass
    if time.monotonic() - started > 180:
        sys.exit("/healthz did not answer within 180 s")
    time.sleep(1)

content = png(64, 48, lambda x, y: (x * 4, y * 5, (x + y) * 2))
style = png(64, 48, lambda x, y: [(20, 40, 160), (240, 200, 40), (30, 140, 60)][((x + y) // 6) % 3])
boundary = uuid.uuid4().hex
parts = []
for name, value in (("size", "64"), ("iterations", "3")):
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
for name, data in (("content", content), ("style", style)):
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.png"\r\n'
                 f"Content-Type: image/png\r\n\r\n".encode() + data + b"\r\n")
body = b"".join(parts) + f"--{boundary}--\r\n".encode()
request = urllib.request.Request(base + "/api/jobs", data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
try:
    with urllib.request.urlopen(request, timeout=30) as response:
        job = json.load(response)
except urllib.error.HTTPError as exc:
      sys.exit(f"POST /api/jobs: HTTP {exc.code}: {exc.read().decode(errors='replace')[:500]}")
say(f"job {job['id']} {job['state']}")

started = time.monotonic()
while job["state"] not in ("done", "failed", "cancelled"):
    if time.monotonic() - started > 300:
        sys.exit(f"job still {job['state']} after 300 s")
    time.sleep(1)
    job = json.loads(get(f"/api/jobs/{job['id']}")[2])
say(f"job {job['state']} after {time.monotonic() - started:.1f} s (progress {job.get('progress')})")
if job["state"] != "done":
    sys.exit(f"job ended {job['state']}: {job.get('error')}")
status, kind, data = get(f"/api/jobs/{job['id']}/result")
if status != 200 or not data.startswith(b"\x89PNG"):
    sys.exit(f"result: HTTP {status} {kind}, {len(data)} bytes, not a PNG")
width, height = struct.unpack(">II", data[16:24])
with open(os.environ["IMPASTO_SMOKE_OUT"], "wb") as out:
    out.write(data)
say(f"result: {width}x{height} PNG, {len(data)} bytes -> {os.environ['IMPASTO_SMOKE_OUT']}")
EOF
log "API checks passed ($((SECONDS - t0)) s since the container started)"

if [ "$PORT" = 8000 ]; then
  if podman healthcheck run "$NAME" >/dev/null 2>&1; then log "the image's HEALTHCHECK passes"
  else die "the image's HEALTHCHECK failed"; fi
fi
whoami_in=$(podman exec "$NAME" id -un)
[ "$whoami_in" != root ] || die "the container runs as root"
log "runs as $whoami_in"

# The studio's HTML page: its templates and static files must be inside the installed package.
IMPASTO_SMOKE_URL="http://127.0.0.1:$PORT" python3 - <<'EOF' \
  || die "GET / failed: the installed package cannot render its pages (templates/static not packaged?)"
import os, sys, urllib.request
try:
    with urllib.request.urlopen(os.environ["IMPASTO_SMOKE_URL"] + "/", timeout=30) as response:
        page = response.read()
        print(f"[smoke] GET / : HTTP {response.status}, {len(page)} bytes", file=sys.stderr)
except Exception as exc:  # an HTTP error, or gunicorn dropping the connection when the error page fails too
    sys.exit(f"[smoke] GET / : {exc!r}")
EOF
log "all checks passed; total $((SECONDS - START)) s (build $build_s s)"
