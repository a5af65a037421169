#!/usr/bin/env bash
# A trial cluster on one machine: three clustered nats-servers (deploy/nats/node-*.conf), the
# ledger on PostgreSQL, and every node role as its own process, two of the roles that scale out.
# Ctrl-C (or SIGTERM) drains every node, then stops the NATS servers.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: deploy/local-cluster.sh [--data DIR] [--database URL] [--grpc-port N] [--help]

Starts a biopay cluster on this machine and keeps it running until Ctrl-C:
  3 nats-servers with JetStream in one cluster (clients on 127.0.0.1:4331-4333)
  2 account nodes (ledger on PostgreSQL), 2 association nodes, 1 terminal, 1 business, 1 gateway

  --data DIR       NATS stores, logs and the template key (default .biopay/cluster)
  --database URL   the ledger's PostgreSQL (default $DATABASE_URL or postgres://postgres@127.0.0.1:5432/test)
  --grpc-port N    the gateway's port (default 50051)

Then, in another shell: biopay terminal register T1 --merchant ACCOUNT, biopay account open ...
(see README.md). Needs nats-server 2.9+, PostgreSQL, and a built checkout (npm ci && npm run build).
TXT
}

root=$(cd "$(dirname "$0")/.." && pwd)
data="$root/.biopay/cluster"
database="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
grpc_port=50051
while (($#)); do
  case "$1" in
    --data) data=$2; shift 2 ;;
    --database) database=$2; shift 2 ;;
    --grpc-port) grpc_port=$2; shift 2 ;;
    --help|-h) usage; exit 0 ;;
    *) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

nats_server=$(command -v nats-server || echo /usr/sbin/nats-server)
[[ -x $nats_server ]] || { echo "nats-server not found: apt-get install nats-server" >&2; exit 1; }
[[ -f $root/dist/cli/bin.js ]] || { echo "dist/ missing: run npm ci && npm run build" >&2; exit 1; }
mkdir -p "$data/logs"
data=$(cd "$data" && pwd)

# The association role seals templates with this key; keep it with the data, readable by us only.
key_file="$data/template.key"
[[ -f $key_file ]] || (umask 077 && head -c 32 /dev/urandom | base64 > "$key_file")
export BIOPAY_TEMPLATE_KEY_FILE=$key_file
# Three servers: every stream and bucket is kept on all three.
export BIOPAY_STREAM_REPLICAS=3

pids=()
stop_all() {
  trap - INT TERM
  echo "stopping: draining nodes, then NATS..."
  # Nodes first (they drain over NATS), the servers last.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; wait "${pids[i]}" 2>/dev/null || true; done
  echo "stopped"
}
trap 'stop_all; exit 0' INT TERM

for i in 1 2 3; do
  (cd "$data" && exec "$nats_server" -c "$root/deploy/nats/node-$i.conf" >"$data/logs/nats-$i.log" 2>&1) &
  pids+=($!)
done
for i in 1 2 3; do
  for _ in $(seq 1 100); do
    node -e "fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" \
      "http://127.0.0.1:$((8330 + i))/healthz" && break
    sleep 0.2
  done
  echo "nats-$i ready (nats://127.0.0.1:$((4330 + i)))"
done
nats_urls=nats://127.0.0.1:4331,nats://127.0.0.1:4332,nats://127.0.0.1:4333

start_node() {
  local name=$1; shift
  node "$root/dist/cli/bin.js" node "$@" --nats "$nats_urls" --json >"$data/logs/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do
    grep -q '"ready":true' "$data/logs/$name.log" 2>/dev/null && { echo "$name ready"; return 0; }
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "$name failed to start:" >&2; tail -5 "$data/logs/$name.log" >&2; stop_all; exit 1; }
    sleep 0.2
  done
  echo "$name did not start in 60 s" >&2; stop_all; exit 1
}

start_node account-1 account --database "$database"
start_node account-2 account --database "$database"
start_node association-1 association
start_node association-2 association
start_node business-1 business
start_node terminal-1 terminal
start_node gateway-1 gateway --grpc-port "$grpc_port"
echo "cluster up: gateway 127.0.0.1:$grpc_port, logs in $data/logs (Ctrl-C stops it)"
# Every node answers the status service: the list shows the cluster as the network sees it.
node "$root/dist/cli/bin.js" status --nats "$nats_urls" || echo "biopay status found no node (see the logs)" >&2
wait
