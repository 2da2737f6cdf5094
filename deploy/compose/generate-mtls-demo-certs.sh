#!/usr/bin/env bash
# Demo TLS material for docker-compose.mtls.yml, made with the Stigmem seed's openssl recipe: an Ed25519 CA
# from `openssl req -x509`, and per node an Ed25519 key, a CSR and a leaf signed by `openssl x509 -req`
# whose extfile gives only a subjectAltName (no EKU: any purpose, RFC 5280). Each leaf carries the node's
# entity URI (the identity Tessera checks) and its compose service name as a DNS SAN, so the seed's
# `curl --resolve stigmem-a:8765:127.0.0.1 https://stigmem-a:8765/healthz` verifies the host name too.
#
# Usage: generate-mtls-demo-certs.sh [--force] [OUT_DIR]      (OUT_DIR default: deploy/compose/tls)
# Writes OUT_DIR/ca.crt, ca.key (0600, never mounted), node-a.{crt,key}, node-b.{crt,key}, and
# node-a.env / node-b.env (0600: STIGMEM_ADMIN_KEY for each node, read by docker compose on the host).
# Local validation only: for a real deployment issue node certificates from your federation CA.
set -euo pipefail

force=0
out=""
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h | --help)
      sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "generate-mtls-demo-certs: unknown option $arg (usage: [--force] [OUT_DIR])" >&2
      exit 2
      ;;
    *)
      [ -z "$out" ] || {
        echo "generate-mtls-demo-certs: one OUT_DIR only" >&2
        exit 2
      }
      out=$arg
      ;;
  esac
done
out=${out:-"$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tls"}
command -v openssl >/dev/null || {
  echo "generate-mtls-demo-certs: openssl is required" >&2
  exit 1
}
if [ -e "$out/ca.key" ] && [ "$force" -ne 1 ]; then
  echo "generate-mtls-demo-certs: $out already holds a CA; pass --force to replace all of it" >&2
  exit 1
fi

# The compose services, their entity URIs (docker-compose.mtls.yml sets the same TESSERA_ENTITY_URI).
NODES=(
  "node-a stigmem-a stigmem://compose.example/nodes/a"
  "node-b stigmem-b stigmem://compose.example/nodes/b"
)

# openssl chats on stderr even when all goes well: show what it said only when a step fails.
quiet() {
  local said
  if ! said=$("$@" 2>&1); then
    echo "generate-mtls-demo-certs: $1 $2 failed: $said" >&2
    return 1
  fi
}

mkdir -p "$out"
# Built in a fresh directory beside OUT_DIR and moved in at the end: a failed run leaves no half set.
stage=$(mktemp -d "$out/.staging.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cd "$stage"

# 1. The federation CA (the seed's step 1).
quiet openssl genpkey -algorithm ed25519 -out ca.key
quiet openssl req -new -x509 -key ca.key -out ca.crt -days 3650 \
  -subj "/CN=Tessera Compose Demo Federation CA"

# 2. One certificate per node with its entity URI as URI SAN (the seed's step 2, plus the service DNS SAN).
for node in "${NODES[@]}"; do
  read -r name service ENTITY_URI <<<"$node"
  SAN="subjectAltName=URI:${ENTITY_URI},DNS:${service}"
  quiet openssl genpkey -algorithm ed25519 -out "$name.key"
  quiet openssl req -new -key "$name.key" -out "$name.csr" \
    -subj "/CN=${service}" \
    -addext "$SAN"
  quiet openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key \
    -CAcreateserial -out "$name.crt" -days 90 \
    -extfile <(echo "$SAN")
  rm "$name.csr"
  # The node's static admin key (STIGMEM_ADMIN_KEY, at least 24 characters), for the admin API.
  printf 'STIGMEM_ADMIN_KEY=%s\n' "$(openssl rand -hex 24)" >"$name.env"
done

# The containers run as uid 65532 and read the leaf keys through read-only bind mounts, which keep the
# host's owner and mode: demo keys are made readable for that. Real keys belong to the node's uid, 0600
# (or a secret volume with the right fsGroup). The CA key and the admin keys stay private to you.
chmod 0644 ca.crt node-*.crt node-*.key
chmod 0600 ca.key node-*.env
rm -f ca.srl
mv -f ca.crt ca.key node-*.crt node-*.key node-*.env "$out/"

echo "demo certificates in $out:"
for node in "${NODES[@]}"; do
  read -r name service ENTITY_URI <<<"$node"
  echo "  $name.crt  $service  $ENTITY_URI"
done
