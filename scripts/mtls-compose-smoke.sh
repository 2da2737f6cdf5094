#!/usr/bin/env bash
# The Stigmem seed's mTLS compose smoke test, for Tessera: demo certificates in a temp directory, two nodes
# with STIGMEM_FEDERATION_INSECURE unset, both checked over HTTPS with client certificates, peers
# registered both ways, a fact asserted on node A and read back on node B; then everything is removed
# unless KEEP_UP=1.
#
# Usage: bash scripts/mtls-compose-smoke.sh            the compose stack (deploy/compose/docker-compose.mtls.yml)
#        bash scripts/mtls-compose-smoke.sh --local    the same steps against two local `tessera serve` processes
#
# Environment: KEEP_UP=1 leaves the nodes running and prints how to stop them. TESSERA_SMOKE_TLS_DIR uses
# material made earlier by deploy/compose/generate-mtls-demo-certs.sh instead of a fresh set.
# TESSERA_SMOKE_TIMEOUT_S bounds each wait (default 120). --local runs `node --import tsx src/cli/main.ts`
# from this checkout, or TESSERA_CMD (e.g. `node bin/tessera.js` after `npm run build`).
# Needs bash, curl, openssl and jq; compose mode also `docker compose`, --local also node.
# Each step prints `==> step`; a failure prints `smoke: FAILED at step '<step>': <why>` and exits 1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMPOSE_FILE="$ROOT/deploy/compose/docker-compose.mtls.yml"
GEN_CERTS="$ROOT/deploy/compose/generate-mtls-demo-certs.sh"
TIMEOUT_S=${TESSERA_SMOKE_TIMEOUT_S:-120}
KEEP_UP=${KEEP_UP:-0}

MODE=compose
case "${1:-}" in
  --local) MODE=local ;;
  "") ;;
  -h | --help)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: bash scripts/mtls-compose-smoke.sh [--local]" >&2
    exit 2
    ;;
esac

STEP="prerequisites"
step() {
  STEP=$1
  echo "==> $1"
}
ok() { echo "    ok: $1"; }
fail() {
  echo "smoke: FAILED at step '$STEP': $1" >&2
  exit 1
}

for tool in curl openssl jq; do
  command -v "$tool" >/dev/null || fail "$tool is required"
done
if [ "$MODE" = compose ]; then
  docker compose version >/dev/null 2>&1 || fail "docker compose is required (or run with --local)"
else
  command -v node >/dev/null || fail "node is required for --local"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessera-mtls-smoke.XXXXXX")
chmod 0700 "$WORK"
echo "smoke: $MODE mode, work dir $WORK"

# The two nodes: compose service name (the certificates' DNS SAN), file prefix of their demo material.
NODES=(a b)
declare -A SERVICE=([a]=stigmem-a [b]=stigmem-b)
declare -A FILES=([a]=node-a [b]=node-b)
declare -A FED_PORT API_PORT PEER_URL PID
COMPOSE_PROJECT=${COMPOSE_PROJECT_NAME:-tessera-mtls-smoke}

stop_local() {
  local n pid
  for n in "${NODES[@]}"; do
    pid=${PID[$n]:-}
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || continue
    # A node stops in well under a second; one that hangs is killed after 15 s.
    for _ in $(seq 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

on_exit() {
  local code=$?
  if [ "$code" -ne 0 ] && [ "$MODE" = local ]; then
    # What the nodes said last helps more than the step name alone.
    for n in "${NODES[@]}"; do
      [ -s "$WORK/${SERVICE[$n]}.log" ] || continue
      echo "--- last lines of ${SERVICE[$n]}'s log ($WORK/${SERVICE[$n]}.log):" >&2
      tail -n 5 "$WORK/${SERVICE[$n]}.log" >&2
    done
  fi
  if [ "$KEEP_UP" = 1 ]; then
    echo "KEEP_UP=1: left running. Stop and clean up with:"
    if [ "$MODE" = local ]; then
      echo "  kill $(for n in "${NODES[@]}"; do printf '$(cat %s) ' "$WORK/${SERVICE[$n]}.pid"; done)&& rm -rf $WORK"
    else
      echo "  docker compose -p $COMPOSE_PROJECT -f $COMPOSE_FILE down -v && rm -rf $WORK"
    fi
    exit "$code"
  fi
  if [ "$MODE" = local ]; then
    stop_local
  else
    docker compose -p "$COMPOSE_PROJECT" -f "$COMPOSE_FILE" down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  [ "$code" -ne 0 ] || echo "smoke: cleaned up (nodes stopped, $WORK removed)"
  exit "$code"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# ---- the steps, shared by both modes -------------------------------------------------------------------

step "generate demo certificates"
if [ -n "${TESSERA_SMOKE_TLS_DIR:-}" ]; then
  TLS=$(cd "$TESSERA_SMOKE_TLS_DIR" && pwd)
  for f in ca.crt node-a.crt node-a.key node-a.env node-b.crt node-b.key node-b.env; do
    [ -r "$TLS/$f" ] || fail "TESSERA_SMOKE_TLS_DIR has no readable $f"
  done
  ok "using $TLS"
else
  TLS="$WORK/tls"
  said=$(bash "$GEN_CERTS" "$TLS" 2>&1) || fail "$said"
  ok "CA and node certificates in $TLS"
fi
declare -A ADMIN_KEY
for n in "${NODES[@]}"; do
  ADMIN_KEY[$n]=$(sed -n 's/^STIGMEM_ADMIN_KEY=//p' "$TLS/${FILES[$n]}.env")
  [ -n "${ADMIN_KEY[$n]}" ] || fail "${FILES[$n]}.env has no STIGMEM_ADMIN_KEY"
  # The key goes to curl in a header file, never on a command line (`ps` would show it).
  (umask 077 && printf 'Authorization: Bearer %s\n' "${ADMIN_KEY[$n]}" >"$WORK/${SERVICE[$n]}.auth")
done

# One request over mutual TLS to node $1's listener $2 (fed|api): curl with the node's own client
# certificate, the CA bundle, and the service name resolved to loopback (the server's DNS SAN is checked).
# Sets STATUS and BODY; returns curl's exit code (its message in CURL_ERROR).
request() {
  local n=$1 listener=$2 method=$3 path=$4 data=${5:-}
  local port svc=${SERVICE[$n]}
  if [ "$listener" = fed ]; then port=${FED_PORT[$n]}; else port=${API_PORT[$n]}; fi
  local args=(-sS --max-time 15 -X "$method" -o "$WORK/body" -w '%{http_code}'
    --cacert "$TLS/ca.crt" --cert "$TLS/${FILES[$n]}.crt" --key "$TLS/${FILES[$n]}.key"
    --resolve "$svc:$port:127.0.0.1")
  [ "$listener" = api ] && args+=(-H "@$WORK/$svc.auth")
  [ -z "$data" ] || args+=(-H 'content-type: application/json' --data "$data")
  : >"$WORK/body"
  BODY="" STATUS="" CURL_ERROR=""
  if STATUS=$(curl "${args[@]}" "https://$svc:$port$path" 2>"$WORK/curl.err"); then
    BODY=$(cat "$WORK/body")
    return 0
  else
    local code=$?
    CURL_ERROR=$(tr '\n' ' ' <"$WORK/curl.err")
    return "$code"
  fi
}

# The API call must answer $expected; otherwise the step fails with what the node said.
api() {
  local expected=$1
  shift
  request "$@" || fail "${SERVICE[$1]} $3 $4: curl: $CURL_ERROR"
  [ "$STATUS" = "$expected" ] || fail "${SERVICE[$1]} $3 $4: HTTP $STATUS (expected $expected): $BODY"
}

start_nodes_compose() {
  FED_PORT=([a]=8765 [b]=8766)
  API_PORT=([a]=8780 [b]=8781)
  PEER_URL=([a]=https://stigmem-a:8765 [b]=https://stigmem-b:8765)
  TESSERA_COMPOSE_TLS_DIR=$TLS docker compose -p "$COMPOSE_PROJECT" -f "$COMPOSE_FILE" up -d --build ||
    fail "docker compose up failed"
  ok "compose project $COMPOSE_PROJECT up"
}

start_nodes_local() {
  local n svc dir cmd
  if [ -n "${TESSERA_CMD:-}" ]; then
    read -r -a cmd <<<"$TESSERA_CMD"
  else
    cmd=(node --import tsx "$ROOT/src/cli/main.ts")
  fi
  for n in "${NODES[@]}"; do
    svc=${SERVICE[$n]}
    dir="$WORK/$svc"
    # The container's layout: the node's certificate, key and the CA bundle in one directory.
    mkdir -p "$dir/tls" "$dir/data"
    cp "$TLS/${FILES[$n]}.crt" "$dir/tls/node.crt"
    cp "$TLS/${FILES[$n]}.key" "$dir/tls/node.key"
    cp "$TLS/ca.crt" "$dir/tls/ca.crt"
    # The compose file's environment, with paths and ports for this machine (port 0: any free port).
    (
      cd "$ROOT"
      for var in $(compgen -e); do
        case "$var" in TESSERA_* | STIGMEM_*) unset "$var" ;; esac
      done
      export TESSERA_ENTITY_URI="stigmem://compose.example/nodes/$n"
      export TESSERA_FEDERATION_HOST=127.0.0.1 TESSERA_FEDERATION_PORT=0
      export TESSERA_API_HOST=127.0.0.1 TESSERA_API_PORT=0 TESSERA_API_TLS=mtls
      export TESSERA_DATA_DIR="$dir/data" TESSERA_PID_FILE="$WORK/$svc.pid" TESSERA_LOG_LEVEL=info
      export STIGMEM_FEDERATION_ENABLED=true
      export STIGMEM_TLS_CERT_PATH="$dir/tls/node.crt" STIGMEM_TLS_KEY_PATH="$dir/tls/node.key"
      export STIGMEM_TLS_CA_BUNDLE="$dir/tls/ca.crt"
      export STIGMEM_ADMIN_KEY="${ADMIN_KEY[$n]}"
      exec "${cmd[@]}" serve </dev/null >"$WORK/$svc.log" 2>&1
    ) &
    PID[$n]=$!
  done
  for n in "${NODES[@]}"; do
    svc=${SERVICE[$n]}
    local ready="" waited=0
    while [ -z "$ready" ]; do
      ready=$(grep -m 1 '"event":"node_ready"' "$WORK/$svc.log" || true)
      [ -n "$ready" ] && break
      kill -0 "${PID[$n]}" 2>/dev/null ||
        fail "$svc exited before it was ready: $(grep -v '^{' "$WORK/$svc.log" | tail -n 3 | tr '\n' ' ')"
      [ "$waited" -lt $((TIMEOUT_S * 10)) ] || fail "$svc not ready within ${TIMEOUT_S} s"
      sleep 0.1
      waited=$((waited + 1))
    done
    FED_PORT[$n]=$(jq -r '.federation_url | sub(".*:"; "")' <<<"$ready")
    API_PORT[$n]=$(jq -r '.api_url | sub(".*:"; "")' <<<"$ready")
    PEER_URL[$n]=$(jq -r '.federation_url' <<<"$ready")
    ok "$svc (pid ${PID[$n]}) federation 127.0.0.1:${FED_PORT[$n]}, API 127.0.0.1:${API_PORT[$n]}"
  done
}

step "start nodes ($MODE)"
"start_nodes_$MODE"

for n in "${NODES[@]}"; do
  svc=${SERVICE[$n]}
  step "health over mTLS ($svc)"
  # The seed's check: curl --cacert ca.crt --cert node.crt --key node.key https://<service>:<port>/healthz.
  # Retried while a compose container starts; a refused handshake is retried too, then reported.
  waited=0
  until request "$n" fed GET /healthz && [ "$STATUS" = 200 ]; do
    [ "$waited" -lt "$TIMEOUT_S" ] ||
      fail "https://$svc:${FED_PORT[$n]}/healthz: ${CURL_ERROR:-HTTP $STATUS $BODY}"
    sleep 1
    waited=$((waited + 1))
  done
  jq -e '.status == "ok"' >/dev/null <<<"$BODY" || fail "unexpected /healthz body: $BODY"
  ok "https://$svc:${FED_PORT[$n]}/healthz → $BODY"
done

# Each node adds the other by its federation URL (the node fetches the peer's manifest over mTLS and
# proves it) and approves it with the key fingerprint it was shown, after comparing that with the key the
# peer itself publishes: the out-of-band check an operator makes with the other node's operator.
register() {
  local from=$1 to=$2
  local key published expected id shown
  api 201 "$from" api POST /v1/admin/peers "$(jq -cn --arg url "${PEER_URL[$to]}" '{url: $url}')"
  id=$(jq -r .id <<<"$BODY")
  shown=$(jq -r .fingerprint <<<"$BODY")
  api 200 "$to" api GET /.well-known/tessera
  key=$(jq -r .public_key <<<"$BODY")
  expected=$(key_fingerprint "$key")
  [ "$shown" = "$expected" ] ||
    fail "${SERVICE[$from]} was shown key $shown for ${SERVICE[$to]}, which publishes $expected"
  api 200 "$from" api POST "/v1/admin/peers/$id/approve" "$(jq -cn --arg f "$shown" '{fingerprint: $f}')"
  jq -e '.status == "approved"' >/dev/null <<<"$BODY" || fail "peer not approved: $BODY"
  ok "${SERVICE[$from]} approved ${SERVICE[$to]} ($(jq -r .entity_uri <<<"$BODY"), key $shown)"
}
# A node key's fingerprint as Tessera shows it: sha256: + hex SHA-256 of the raw key (base64url on the wire).
key_fingerprint() {
  local b64=${1//-/+}
  b64=${b64//_//}
  while [ $((${#b64} % 4)) -ne 0 ]; do b64="$b64="; done
  local digest
  digest=$(printf '%s' "$b64" | base64 -d | openssl dgst -sha256 -r) || return 1
  echo "sha256:${digest%% *}"
}
step "register peers"
register a b
register b a

step "assert a fact on ${SERVICE[a]}"
entity="stigmem://smoke.example/run/$(openssl rand -hex 8)"
value="replicated-$(openssl rand -hex 4)"
api 201 a api POST /v1/facts "$(jq -cn --arg e "$entity" --arg v "$value" \
  '{entity: $e, relation: "smoke", value: $v, scope: "company"}')"
cid=$(jq -r .cid <<<"$BODY")
ok "$entity smoke=$value ($cid)"

step "read the fact on ${SERVICE[b]}"
query="/v1/facts?entity=$(jq -rn --arg e "$entity" '$e | @uri')"
waited=0
until api 200 b api GET "$query" && jq -e --arg c "$cid" 'any(.facts[]; .cid == $c)' >/dev/null <<<"$BODY"; do
  # Push wakes the peer at once; the bound covers a slow start of the pull loop.
  [ "$waited" -lt $((TIMEOUT_S * 4)) ] || fail "the fact $cid did not reach ${SERVICE[b]} within ${TIMEOUT_S} s"
  sleep 0.25
  waited=$((waited + 1))
done
received=$(jq -r --arg c "$cid" '.facts[] | select(.cid == $c) | "\(.value.v) from \(.origin_node_id)"' <<<"$BODY")
ok "${SERVICE[b]} has $cid: $received"

STEP="done"
echo "smoke: PASSED"
