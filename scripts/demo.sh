#!/usr/bin/env bash
# The README's first command (`make demo`): starts the whole local stack (Kubernetes control plane, Kafka
# broker, Connect worker), runs connect-warden's webhook and controller against it, applies the examples in
# deploy/examples/demo/ and shows what a user sees. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

bash scripts/deps.sh
say "Building connect-warden (first run also builds kube-apiserver, kubectl and etcd, and fetches Kafka: minutes)"
cargo build --workspace --bins
"$CARGO_TARGET_DIR/debug/cw-stack" build >/dev/null

stack_dir="$CARGO_TARGET_DIR/demo"
env_file="$CARGO_TARGET_DIR/demo.env.json"
cw_stack="$CARGO_TARGET_DIR/debug/cw-stack"
say "Starting the stack"
"$cw_stack" up --detach --warden --dir "$stack_dir" --env-file "$env_file" \
  --controller-args "--poll-interval-seconds 5"
trap '"$cw_stack" down --env-file "$env_file"' EXIT
trap 'exit 130' INT TERM
eval "$("$cw_stack" env "$env_file")"

export DEMO_FILE="$stack_dir/orders.txt"
printf 'order-1\norder-2\norder-3\n' > "$DEMO_FILE"
render() { sed -e "s|\${CONNECT_URL}|$CONNECT_URL|g" -e "s|\${DEMO_FILE}|$DEMO_FILE|g" "$1"; }

kubectl create namespace demo >/dev/null
say "\$ kubectl apply -f deploy/examples/demo/cluster.yaml"
render deploy/examples/demo/cluster.yaml | kubectl apply -f -

say "\$ kubectl apply -f deploy/examples/demo/good-connector.yaml"
render deploy/examples/demo/good-connector.yaml | kubectl apply -f -

say "\$ kubectl apply -f deploy/examples/demo/bad-connector.yaml      # a sink without topics"
render deploy/examples/demo/bad-connector.yaml | kubectl apply -f - || true

say "Waiting for orders-source to be Ready"
kubectl wait -n demo kafkaconnector/orders-source --for=condition=Ready --timeout=120s >/dev/null || true
say "\$ kubectl get kafkaconnectors -n demo"
kubectl get kafkaconnectors -n demo
say "\$ kubectl get kafkaconnectclusters -n demo"
kubectl get kafkaconnectclusters -n demo

say "The stack keeps running. In another shell:"
echo "  eval \"\$($cw_stack env $env_file)\""
echo "  kubectl get kafkaconnectors -A"
echo "  curl -s \$CONNECT_URL/connectors?expand=status"
echo "Logs: $stack_dir/logs/   Ctrl-C stops everything."
while kill -0 "$CW_STACK_PID" 2>/dev/null; do sleep 1; done
