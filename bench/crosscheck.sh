#!/usr/bin/env bash
# Cross-checks gatehouse-load's shares of the no-op with an independent load generator
# (hey, github.com/rakyll/hey): the same seeded workspace, the shipped binary with its
# logging on, the same no-op server, each in its own process; hey sends the requests.
#
#   GOBIN=/tmp/bin go install github.com/rakyll/hey@latest
#   bench/crosscheck.sh [sqlite|postgres://…]     # prints req/s and the share of the no-op
set -euo pipefail
cd "$(dirname "$0")/.."
HEY=${HEY:-$(command -v hey || echo /tmp/bin/hey)}
DB=${1:-sqlite}
N=${N:-40000}     # requests per measurement
C=${C:-8}         # concurrent connections, as gatehouse-load's 8 clients
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/gatehouse" ./cmd/gatehouse
go build -o "$work/ghload" ./cmd/gatehouse-load
if [ "$DB" = sqlite ]; then
	url="sqlite:$work/g.db"
else
	url="$DB"
fi
"$work/ghload" --seed-only --database-url "$url" --workspace "$work/ws.json" --members 1000 --flags 2000 --clients 8 >/dev/null
"$work/gatehouse" license keygen --out "$work" >/dev/null
export GATEHOUSE_LICENSE_PUBLIC_KEY="$work/license.pub"
GATEHOUSE_LICENSE_KEY=$("$work/gatehouse" license issue --private-key "$work/license.key")
export GATEHOUSE_LICENSE_KEY
"$work/gatehouse" serve --addr 127.0.0.1:18400 --database-url "$url" >/dev/null 2>"$work/serve.log" &
tail -f /dev/null | GATEHOUSE_LOAD_NOOP_SERVER=1 "$work/ghload" >"$work/noop.out" &
for _ in $(seq 100); do
	curl -fs http://127.0.0.1:18400/_ready >/dev/null 2>&1 && grep -q http "$work/noop.out" && break
	sleep 0.1
done
noop=$(grep -o 'http://[0-9.:]*' "$work/noop.out")
project=$(jq -r .project "$work/ws.json")
key=$(jq -r '.clients[0].api_key' "$work/ws.json")
admin=$(jq -r .admin_api_key "$work/ws.json")
flag=$(jq -r '.flags[17]' "$work/ws.json")
other=$(jq -r '.others[3]' "$work/ws.json")
printf '{"checks":[{"kind":"feature_flags","id":%s,"action":"edit"}]}' "$flag" >"$work/check.json"
printf '{"checks":[{"kind":"feature_flags","id":%s,"action":"edit","user_uuid":"%s"}]}' "$flag" "$other" >"$work/other.json"
jq -c --arg u "$other" '{checks: [.flags[:100][] | {kind: "feature_flags", id: ., action: "view"}]}' "$work/ws.json" >"$work/batch.json"

rate() { "$HEY" -n "$N" -c "$C" "$@" | awk '/Requests\/sec/ {print $2}'; }
api="http://127.0.0.1:18400/api/projects/$project"
"$HEY" -n 2000 -c "$C" "$noop/_noop" >/dev/null # warm up both
"$HEY" -n 2000 -c "$C" -m POST -H "Authorization: Bearer $key" -T application/json -D "$work/check.json" "$api/access/check" >/dev/null
r_noop=$(rate "$noop/_noop")
r_check=$(rate -m POST -H "Authorization: Bearer $key" -T application/json -D "$work/check.json" "$api/access/check")
r_other=$(rate -m POST -H "Authorization: Bearer $admin" -T application/json -D "$work/other.json" "$api/access/check")
r_batch=$(rate -m POST -H "Authorization: Bearer $key" -T application/json -D "$work/batch.json" "$api/access/check")
r_list=$(rate -H "Authorization: Bearer $key" "$api/feature_flags?limit=100")
r_noop2=$(rate "$noop/_noop")
awk -v n1="$r_noop" -v n2="$r_noop2" -v c="$r_check" -v o="$r_other" -v b="$r_batch" -v l="$r_list" -v db="${DB%%:*}" 'BEGIN {
	n = (n1 + n2) / 2
	printf "hey, %s, %d connections; no-op %.0f req/s (before %.0f, after %.0f)\n", db, '"$C"', n, n1, n2
	printf "  single check         %8.0f req/s  %5.1f%% of no-op\n", c, 100 * c / n
	printf "  check about another  %8.0f req/s  %5.1f%% of no-op\n", o, 100 * o / n
	printf "  batch of 100         %8.0f req/s  %5.1f%% of no-op\n", b, 100 * b / n
	printf "  list page of 100     %8.0f req/s  %5.1f%% of no-op\n", l, 100 * l / n
}'
echo "server log lines: $(wc -l <"$work/serve.log")"
