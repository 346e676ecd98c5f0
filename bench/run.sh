#!/usr/bin/env bash
# bench/run.sh -- Berth vs the reference registry (Debian docker-registry, CNCF distribution
# 2.8), side by side on loopback, with the shared kit's bench.sh. Prints a table of
# Berth/reference ratios against the targets. Not part of the test suite. See bench/README.md.
#
#   bash bench/run.sh
#
# Knobs (env): RUNS WRK_RUNS WRK_DUR WRK_CONN PAR BLOB_MIB SMALL_MIB ONLY  (passed to bench.sh)
#   KIT=/work/shared/kit  BENCH_IMAGES=/tmp/berth-bench/images  BENCH_RESULTS=<dir>
#   CANDIDATE=berth|reference   (reference: a 2nd reference registry stands in for Berth; checks this script)
#   BERTH_URL=http://127.0.0.1:P BERTH_CREDS=user:pass BERTH_PREFIX=<account_id>/bench  (use a running Berth)
#   BERTH_VENV=<venv>  BERTH_INSTALL=1|0  BERTH_START_TIMEOUT=180  KEEP_DATA=0|1  STRICT=0|1
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
KIT=${KIT:-/work/shared/kit}
BENCH_ROOT=${BENCH_ROOT:-${TMPDIR:-/tmp}/berth-bench}
IMAGES_DIR=${BENCH_IMAGES:-$BENCH_ROOT/images}
RESULTS=${BENCH_RESULTS:-$BENCH_ROOT/results/$(date +%Y%m%d-%H%M%S)}
CANDIDATE=${CANDIDATE:-berth}
STRICT=${STRICT:-0}

# bench.sh knobs (the kit's defaults; a full run takes ~4 min when Berth is as fast as the reference)
export RUNS=${RUNS:-5} WRK_RUNS=${WRK_RUNS:-3} WRK_DUR=${WRK_DUR:-10s} WRK_CONN=${WRK_CONN:-16}
export PAR=${PAR:-32} BLOB_MIB=${BLOB_MIB:-512} SMALL_MIB=${SMALL_MIB:-16}
ONLY=${ONLY:-"skopeo curl wrk par"}

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

[ -x "$KIT/bench.sh" ] || die "kit not found at $KIT (set KIT=)"

# ---- Debian packages --------------------------------------------------------------------
PKGS=(skopeo umoci docker-registry wrk jq curl debootstrap)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  [ "$(id -u)" = 0 ] || die "need root to apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PKGS[@]}" >/dev/null
fi

mkdir -p "$BENCH_ROOT" "$RESULTS"; RESULTS=$(cd "$RESULTS" && pwd)
WORK=$(mktemp -d "$BENCH_ROOT/run.XXXXXX")
rm -f "$RESULTS/problems.txt"
log "results in $RESULTS"

# ---- cleanup: stop only what this script started -----------------------------------------
REF_PORT=""; REF_DIR="$WORK/ref-storage"
CAND_REF_PORT=""; CAND_REF_DIR="$WORK/cand-ref-storage"
BERTH_PID=""
stop_berth() {
  [ -n "$BERTH_PID" ] || return 0
  local pid=$BERTH_PID; BERTH_PID=""
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping berth (pid $pid, SIGTERM)"
    kill -TERM "$pid" 2>/dev/null || true
    local t0; t0=$(date +%s)
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "berth serve (pid $pid) still running 30 s after SIGTERM; sending SIGKILL" | tee -a "$RESULTS/problems.txt" >&2
      kill -KILL "$pid" 2>/dev/null || true
    else
      log "berth stopped $(( $(date +%s) - t0 )) s after SIGTERM"
    fi
  else
    echo "berth serve (pid $pid) was no longer running at the end of the run" | tee -a "$RESULTS/problems.txt" >&2
  fi
  # berth serve was started in its own session/process group (setsid): anything left in
  # that group (gunicorn workers, celery) was started by this script and is cleaned up too.
  local left
  left=$(pgrep -g "$pid" 2>/dev/null | tr '\n' ' ' || true)
  if [ -n "$left" ]; then
    echo "processes left in berth's group after it exited: $left($(ps -o pid=,args= -g "$pid" 2>/dev/null | tr '\n' ';'))" \
      | tee -a "$RESULTS/problems.txt" >&2
    kill -TERM -- "-$pid" 2>/dev/null || true; sleep 2
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
}
cleanup() {
  local rc=$?
  set +e
  stop_berth
  if [ -n "$REF_PORT" ]; then "$KIT/reference-registry.sh" stop "$REF_PORT" "$REF_DIR" >/dev/null; fi
  if [ -n "$CAND_REF_PORT" ]; then "$KIT/reference-registry.sh" stop "$CAND_REF_PORT" "$CAND_REF_DIR" >/dev/null; fi
  [ -f "$REF_DIR.conf/registry.log" ] && cp "$REF_DIR.conf/registry.log" "$RESULTS/reference-server.log"
  if [ "${KEEP_DATA:-0}" = 1 ]; then log "kept server data in $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT; trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- images ------------------------------------------------------------------------------
if [ -f "$IMAGES_DIR/big/index.json" ] && [ -f "$IMAGES_DIR/py-app/index.json" ]; then
  log "reusing images in $IMAGES_DIR"
else
  log "building images big + py-app into $IMAGES_DIR (about a minute)"
  IMAGES="big py-app" "$KIT/make-images.sh" "$IMAGES_DIR" > "$RESULTS/make-images.log" 2>&1 \
    || { tail -n 20 "$RESULTS/make-images.log" >&2; die "make-images.sh failed"; }
fi

# ---- reference registry ------------------------------------------------------------------
REF_PORT=$(free_port)
"$KIT/reference-registry.sh" start "$REF_PORT" "$REF_DIR" >&2 || die "reference registry did not start"
REF_URL=http://127.0.0.1:$REF_PORT

# ---- candidate (Berth) -------------------------------------------------------------------
CAND_CREDS=""; CAND_PREFIX=""
if [ "$CANDIDATE" = reference ]; then
  CAND_REF_PORT=$(free_port)
  "$KIT/reference-registry.sh" start "$CAND_REF_PORT" "$CAND_REF_DIR" >&2 || die "stand-in registry did not start"
  CAND_URL=http://127.0.0.1:$CAND_REF_PORT; CAND_NAME="reference#2 (stand-in)"
elif [ -n "${BERTH_URL:-}" ]; then
  CAND_URL=${BERTH_URL%/}; CAND_CREDS=${BERTH_CREDS:-}; CAND_PREFIX=${BERTH_PREFIX:-}
  CAND_NAME="berth (running at $CAND_URL)"
else
  CAND_NAME=berth
  if [ -n "${BERTH_VENV:-}" ]; then VENV=$BERTH_VENV
  elif [ -x "$REPO/.venv/bin/python" ]; then VENV=$REPO/.venv
  else VENV=$BENCH_ROOT/venv; fi
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating venv $VENV"; python3 -m venv "$VENV"
  fi
  if [ "${BERTH_INSTALL:-1}" = 1 ]; then
    log "pip install -r requirements.txt -e . into $VENV"
    (cd "$REPO" && "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt -e .) \
      > "$RESULTS/pip-install.log" 2>&1 || { tail -n 20 "$RESULTS/pip-install.log" >&2; die "pip install failed"; }
  fi
  BERTH=$VENV/bin/berth
  [ -x "$BERTH" ] || die "no berth console script in $VENV/bin"
  export BERTH_DATA_DIR=$WORK/berth-data; mkdir -p "$BERTH_DATA_DIR"
  # create_account does not migrate by itself: a fresh data dir needs the tables first
  (cd "$REPO" && "$BERTH" migrate --noinput) > "$RESULTS/migrate.log" 2>&1 \
    || { tail -n 30 "$RESULTS/migrate.log" >&2; die "berth migrate failed"; }
  PW=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  (cd "$REPO" && "$BERTH" create_account --name bench --username bench --password "$PW" --json) \
    > "$RESULTS/create-account.out" 2> "$RESULTS/create-account.err" \
    || { cat "$RESULTS/create-account.err" >&2; die "berth create_account failed"; }
  # the JSON may be preceded by migration chatter: take the last line that parses
  ACCOUNT_ID=$(grep '^{' "$RESULTS/create-account.out" | tail -n1 | jq -r '.account_id // empty' 2>/dev/null || true)
  [ -n "$ACCOUNT_ID" ] || { cat "$RESULTS/create-account.out" >&2; die "no account_id in create_account --json output"; }
  CAND_CREDS="bench:$PW"; CAND_PREFIX="$ACCOUNT_ID/bench"
  BERTH_PORT=$(free_port); CAND_URL=http://127.0.0.1:$BERTH_PORT
  log "starting berth serve on 127.0.0.1:$BERTH_PORT (data $BERTH_DATA_DIR)"
  (cd "$REPO" && exec setsid "$BERTH" serve --bind "127.0.0.1:$BERTH_PORT") > "$RESULTS/berth-server.log" 2>&1 &
  BERTH_PID=$!
  up=0; t0=$(date +%s)
  while [ $(( $(date +%s) - t0 )) -lt "${BERTH_START_TIMEOUT:-180}" ]; do
    kill -0 "$BERTH_PID" 2>/dev/null || { tail -n 30 "$RESULTS/berth-server.log" >&2; die "berth serve exited during startup"; }
    code=$(curl -s -o /dev/null -w '%{http_code}' "$CAND_URL/v2/" || true)
    if [ "$code" = 200 ] || [ "$code" = 401 ]; then up=1; break; fi
    sleep 0.5
  done
  [ "$up" = 1 ] || { tail -n 30 "$RESULTS/berth-server.log" >&2; die "berth did not answer /v2/ within ${BERTH_START_TIMEOUT:-180} s"; }
  log "berth up after $(( $(date +%s) - t0 )) s (pid $BERTH_PID, account $ACCOUNT_ID)"
fi

# ---- metadata ----------------------------------------------------------------------------
{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(uname -srm), $(nproc) cores"
  echo "berth commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo none) $(git -C "$REPO" status --porcelain 2>/dev/null | grep -q . && echo '(dirty tree)')"
  echo "reference: $(docker-registry --version 2>&1 | head -n1) at $REF_URL"
  echo "candidate: $CAND_NAME at $CAND_URL"
  echo "knobs: RUNS=$RUNS WRK_RUNS=$WRK_RUNS WRK_DUR=$WRK_DUR WRK_CONN=$WRK_CONN PAR=$PAR BLOB_MIB=$BLOB_MIB SMALL_MIB=$SMALL_MIB ONLY=\"$ONLY\""
  echo "images: $IMAGES_DIR"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$RESULTS/meta.txt"

# ---- benchmark: each section against both registries, alternating which goes first -------
: > "$RESULTS/reference.txt"; : > "$RESULTS/berth.txt"
FAILED=()
run_one() {  # run_one ref|berth SECTION
  local who=$1 sec=$2 rc=0 t0
  t0=$(date +%s)
  if [ "$who" = ref ]; then
    env -u CREDS -u BENCH_PREFIX ONLY="$sec" "$KIT/bench.sh" "$REF_URL" "$IMAGES_DIR" \
      >> "$RESULTS/reference.txt" 2> "$RESULTS/reference.$sec.err" || rc=$?
  else
    local e=(env -u CREDS -u BENCH_PREFIX)
    [ -z "$CAND_CREDS" ] || e+=("CREDS=$CAND_CREDS")
    [ -z "$CAND_PREFIX" ] || e+=("BENCH_PREFIX=$CAND_PREFIX")
    "${e[@]}" ONLY="$sec" "$KIT/bench.sh" "$CAND_URL" "$IMAGES_DIR" \
      >> "$RESULTS/berth.txt" 2> "$RESULTS/berth.$sec.err" || rc=$?
  fi
  if [ "$rc" != 0 ]; then
    FAILED+=("$who/$sec")
    { echo "bench.sh $sec against $who failed (exit $rc):"; tail -n 15 "$RESULTS/$([ "$who" = ref ] && echo reference || echo berth).$sec.err"; } \
      | tee -a "$RESULTS/problems.txt" >&2
  fi
  log "$sec on $who: $(( $(date +%s) - t0 )) s (exit $rc)"
  if [ "$who" = berth ] && [ -n "$BERTH_PID" ] && ! kill -0 "$BERTH_PID" 2>/dev/null; then
    echo "berth serve (pid $BERTH_PID) died during the $sec section; see berth-server.log" | tee -a "$RESULTS/problems.txt" >&2
  fi
}
T_START=$(date +%s); n=0
for sec in $ONLY; do
  if [ $((n % 2)) = 0 ]; then run_one ref "$sec"; run_one berth "$sec"
  else run_one berth "$sec"; run_one ref "$sec"; fi
  n=$((n + 1))
done
T_BENCH=$(( $(date +%s) - T_START ))
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg) (2 cores: other work on the host skews the figures)" >> "$RESULTS/meta.txt"

# ---- table -------------------------------------------------------------------------------
# section|metric|label|direction (hi: bigger is better)|target ratio (empty: info only)
ALL_METRICS=(
  "curl|curl_blob_get_${BLOB_MIB}MiB|blob GET ${BLOB_MIB} MiB (curl)|hi|1.0"
  "curl|curl_blob_put_${BLOB_MIB}MiB|blob PUT ${BLOB_MIB} MiB (curl)|hi|1.5"
  "wrk|manifest_get_rps|manifest GET (wrk -c$WRK_CONN)|hi|0.5"
  "par|par${PAR}_blob_get_${SMALL_MIB}MiB_total|$PAR parallel ${SMALL_MIB} MiB GETs|hi|1.0"
  "skopeo|skopeo_push_big|skopeo push big|hi|"
  "skopeo|skopeo_pull_big|skopeo pull big|hi|"
  "wrk|manifest_get_p50|manifest GET p50 latency|lo|"
  "wrk|manifest_get_p99|manifest GET p99 latency|lo|"
)
METRICS=()
for m in "${ALL_METRICS[@]}"; do
  if [[ " $ONLY " == *" ${m%%|*} "* ]]; then METRICS+=("${m#*|}"); fi
done
TABLE=$(awk -v metrics="$(printf '%s\n' "${METRICS[@]}")" -v cand="$CAND_NAME" '
  { f = (FILENAME == ARGV[1]) ? 1 : 2 }
  /^[A-Za-z0-9_]+ [-0-9.e+naif]+ [^ ]+  # / {
    name = $1; med[f, name] = $2; unit[name] = $3
    mn = ""; mx = ""
    for (i = 4; i <= NF; i++) { if ($i == "min") mn = $(i+1); if ($i == "max") mx = $(i+1) }
    rng[f, name] = mn "-" mx
  }
  END {
    n = split(metrics, M, "\n")
    fmt = "%-30s %-6s %-22s %-22s %7s %8s  %s\n"
    printf fmt, "metric", "unit", "reference [min-max]", "berth [min-max]", "ratio", "target", "result"
    printf fmt, "------", "----", "-------------------", "---------------", "-----", "------", "------"
    pass = 0; miss = 0
    for (k = 1; k <= n; k++) {
      if (M[k] == "") continue
      split(M[k], p, "|"); key = p[1]; label = p[2]; dir = p[3]; tgt = p[4]
      r = ((1, key) in med) ? med[1, key] : ""; b = ((2, key) in med) ? med[2, key] : ""
      rs = (r == "") ? "-" : sprintf("%s [%s]", r, rng[1, key])
      bs = (b == "") ? "-" : sprintf("%s [%s]", b, rng[2, key])
      ratio = "-"; res = (tgt == "") ? "info" : "NO DATA"
      if (r != "" && b != "" && r + 0 > 0) {
        q = b / r; ratio = sprintf("%.2fx", q)
        if (tgt != "") { if (q >= tgt) { res = "PASS"; pass++ } else { res = "MISS"; miss++ } }
        else if (dir == "lo") res = "info (lower is better)"
      } else if (tgt != "") miss++
      printf fmt, label, (key in unit) ? unit[key] : "", rs, bs, ratio, (tgt == "") ? "" : ">= " tgt "x", res
    }
    printf "\ntargets: %d PASS, %d MISS/NO DATA   (ratio = berth / reference; candidate: %s)\n", pass, miss, cand
  }' "$RESULTS/reference.txt" "$RESULTS/berth.txt")

{
  echo
  echo "Berth vs reference registry -- $(date -u +%FT%TZ), bench time ${T_BENCH} s"
  sed 's/^/  /' "$RESULTS/meta.txt"
  echo
  echo "$TABLE"
  if [ ${#FAILED[@]} -gt 0 ]; then echo "FAILED bench sections: ${FAILED[*]} (see $RESULTS/problems.txt)"; fi
  echo "raw outputs: $RESULTS"
} | tee "$RESULTS/table.txt"

[ ${#FAILED[@]} -eq 0 ] || exit 1
if [ "$STRICT" = 1 ] && grep -qE ' (MISS|NO DATA)$' <<<"$TABLE"; then exit 1; fi
exit 0
