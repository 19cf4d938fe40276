#!/bin/sh
# nethook's main job, shown on a throw-away network namespace:
# a server with two aliases, a policy rule and a table route loses them the way a DHCP
# lease change does (the kernel drops secondaries with their primary, and every route
# through an interface left without an IPv4 address); nethook puts them back.
#
# Everything happens inside two namespaces this script creates and always deletes;
# the host's interfaces, routes and files are never touched.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
nethook=${NETHOOK:-$here/.venv/bin/nethook}
[ -x "$nethook" ] || { echo "run 'make demo' (it installs $nethook first)" >&2; exit 1; }

tag=$$
cli=nhdemo-$tag-cli
gw=nhdemo-$tag-gw
work=$(mktemp -d /tmp/nethook-demo.XXXXXX)

cleanup() {
    ip netns del "$cli" 2>/dev/null || :
    ip netns del "$gw" 2>/dev/null || :
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
in_ns() { ip netns exec "$cli" "$@"; }
show_server() {
    show in_ns ip -br addr show dev eth0
    show in_ns ip -4 rule show priority 1000
    show in_ns ip route show table 100
}

ip netns add "$cli"
ip netns add "$gw"
ip link add gw0 netns "$gw" type veth peer name eth0 netns "$cli"
ip -n "$gw" addr add 10.77.0.1/24 dev gw0
ip -n "$gw" link set gw0 up
ip -n "$cli" link set lo up
ip -n "$cli" link set eth0 up
# The "lease": a dynamic address, as dhclient-script adds it.
ip -n "$cli" addr add 10.77.0.10/24 dev eth0 valid_lft 600 preferred_lft 600

mkdir -p "$work/root/etc/iproute2" "$work/root/etc/nethook" "$work/state" "$work/run"
printf '100\tmgmt\n' > "$work/root/etc/iproute2/rt_tables"
cat > "$work/root/etc/nethook/nethook.yaml" <<'EOF'
version: 1
interfaces:
  eth0:
    addresses:
      - address: 10.77.0.50/24
        label: "eth0:0"
      - address: 10.77.0.51/24
        label: "eth0:1"
    routes:
      - to: default
        via: 10.77.0.1
        table: mgmt
    routing-policy:
      - from: 10.77.0.50
        table: mgmt
        priority: 1000
EOF
export NETHOOK_ROOT="$work/root" NETHOOK_STATE_DIR="$work/state" NETHOOK_RUN_DIR="$work/run"

step "the declared state ($work/root/etc/nethook/nethook.yaml)"
cat "$work/root/etc/nethook/nethook.yaml"

step "first apply: nethook adds what is declared"
show in_ns "$nethook" apply

step "the server as configured"
show_server

step "a DHCP lease change: dhclient-script flushes the old lease, adds the new one"
show in_ns ip -4 addr flush dev eth0 label eth0
show in_ns ip addr add 10.77.0.11/24 dev eth0 valid_lft 600 preferred_lft 600
show_server
echo "(table 100 is empty: the aliases died with their primary, the table route with the last address)"

step "nethook status"
in_ns "$nethook" status || echo "(exit status $?: something is missing)"

step "nethook plan"
in_ns "$nethook" plan || :

step "nethook apply"
show in_ns "$nethook" apply

step "restored"
show_server
show in_ns "$nethook" status

step "the journal keeps one line per run ($work/state/journal.jsonl)"
tail -n 1 "$work/state/journal.jsonl"
echo
