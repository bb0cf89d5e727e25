#!/usr/bin/env bash
# Remakes the tunnel fixtures in testdata/tunnels and their goldens: HTTP
# between curl and nginx in two network namespaces joined by a veth pair,
# carried by a tunnel device of each kind on top, captured on the underlay
# (the veth) with tcpdump, as a mirror target receives it.
#
#   vxlan      ip link ... type vxlan id 42 dstport 4789 (IPv4 underlay)
#   vxlan6     the same over an IPv6 underlay
#   geneve     type geneve id 42
#   gretap     type gretap (GRE carrying Ethernet)
#   gre        type gre (GRE carrying IP)
#   erspan1    type erspan erspan_ver 1 (ERSPAN type II)
#   erspan2    type erspan erspan_ver 2 (ERSPAN type III)
#
# A kernel built without a kind (no CONFIG_GENEVE, CONFIG_NET_IPGRE...)
# cannot make it: then Open vSwitch's userspace datapath (ovs-vswitchd with
# datapath_type=netdev, one in each namespace) is the tunnel endpoint, for
# geneve, gretap (OVS's type=gre), erspan1 and erspan2. What neither can
# make is made by scripts/tunnel-rewrap.py, which takes the inner frames of
# the vxlan capture and wraps them again with scapy's headers for that kind. Besides, the rewrap makes three that
# no tunnel device sends: erspan-type1 (ERSPAN type I: no ERSPAN header),
# geneve-ip (AWS Gateway Load Balancer style: IP packets, with options),
# and gre-vxlan (the vxlan capture's packets inside GRE: two tunnels).
# Which way each was made is written in testdata/tunnels/MADE-BY.
#
# link-ieee-802-11.pcap is go-curl.pcap's first frames relabelled 802.11 by
# editcap: a link type record refuses.
#
# Goldens (testdata/tunnels/NAME.txt) are written by
# scripts/tshark-exchanges.py: tshark decodes every one of these tunnels.
# Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need tcpdump:tcpdump tshark:tshark editcap:wireshark-common nginx:nginx-light curl:curl ip:iproute2 python3:python3 \
	"ovs-vswitchd:openvswitch-switch:a userspace endpoint for the tunnels this kernel has no device for"
/usr/bin/python3 -c 'import scapy.all' 2>/dev/null || need "false:python3-scapy:the rewrap of tunnels this kernel cannot make"

out=testdata/tunnels
mkdir -p "$out" "$work/www"
na=rkt-a-$$ nb=rkt-b-$$
netns_down() { ip netns del "$na" 2>/dev/null || true; ip netns del "$nb" 2>/dev/null || true; }
cleanup_hooks+=(ovs_down netns_down)

# netns_up: the two namespaces, joined by veth-a and veth-b.
netns_up() {
	ip netns add "$na"
	ip netns add "$nb"
	ip link add veth-a netns "$na" type veth peer name veth-b netns "$nb"
	local ns
	for ns in "$na" "$nb"; do ip -n "$ns" link set lo up; done
	ip -n "$na" link set veth-a up
	ip -n "$nb" link set veth-b up
}
printf '<h1>tunnels</h1>\n' >"$work/www/index.html"
cat >"$work/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
	server { listen 80; root $work/www; location /api/ { return 201 '{"id":1}'; } }
}
CONF

# kernel_up KIND: a kernel tunnel device tun0 of that kind in each
# namespace over the veth. Fails if the kernel lacks it.
kernel_up() {
	local kind=$1 args ns la ra side
	ip -n "$na" addr add 10.77.0.1/24 dev veth-a
	ip -n "$nb" addr add 10.77.0.2/24 dev veth-b
	ip -n "$na" addr add fd77::1/64 dev veth-a nodad
	ip -n "$nb" addr add fd77::2/64 dev veth-b nodad
	for side in a b; do
		if [ $side = a ]; then ns=$na la=10.77.0.1 ra=10.77.0.2; else ns=$nb la=10.77.0.2 ra=10.77.0.1; fi
		[ "$kind" = vxlan6 ] && { la=fd77::${la##*.}; ra=fd77::${ra##*.}; }
		case $kind in
		vxlan | vxlan6) args=(type vxlan id 42 dstport 4789 local "$la" remote "$ra" dev veth-$side) ;;
		geneve) args=(type geneve id 42 remote "$ra") ;;
		gretap) args=(type gretap local "$la" remote "$ra") ;;
		gre) args=(type gre local "$la" remote "$ra") ;;
		erspan1) args=(type erspan seq key 10 erspan_ver 1 erspan 123 local "$la" remote "$ra") ;;
		erspan2) args=(type erspan seq key 11 erspan_ver 2 erspan_dir ingress erspan_hwid 7 local "$la" remote "$ra") ;;
		esac
		ip -n "$ns" link add tun0 "${args[@]}" 2>/dev/null || return 1
		ip -n "$ns" link set tun0 mtu 1400 up
		ip -n "$ns" addr add 10.78.0.${la##*[.:]}/24 dev tun0
	done
}

# ovs_up KIND: Open vSwitch's userspace datapath in each namespace: br-phy
# holds the veth and the underlay address, br-int a tunnel port tun0 of
# that kind and the inner address. Fails for a kind OVS does not have.
ovs_pids=()
ovs_up() {
	local kind=$1 side ns l r d opts v
	command -v ovs-vswitchd >/dev/null || return 1
	case $kind in geneve | gretap | erspan1 | erspan2) ;; *) return 1 ;; esac
	for side in a b; do
		if [ $side = a ]; then ns=$na l=1 r=2; else ns=$nb l=2 r=1; fi
		d=$work/ovs-$side
		rm -rf "$d"
		mkdir -p "$d"
		ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
		ip netns exec "$ns" ovsdb-server "$d/conf.db" --remote="punix:$d/db.sock" --pidfile="$d/db.pid" --unixctl="$d/db.ctl" --log-file="$d/db.log" --detach
		ovs_pids+=("$(cat "$d/db.pid")")
		ip netns exec "$ns" ovs-vswitchd "unix:$d/db.sock" --pidfile="$d/vs.pid" --unixctl="$d/vs.ctl" --log-file="$d/vs.log" --detach 2>/dev/null
		ovs_pids+=("$(cat "$d/vs.pid")")
		v=(ip netns exec "$ns" ovs-vsctl --db="unix:$d/db.sock")
		"${v[@]}" init
		"${v[@]}" add-br br-phy -- set bridge br-phy datapath_type=netdev \
			other_config:hwaddr="$(ip netns exec "$ns" cat /sys/class/net/veth-$side/address)"
		"${v[@]}" add-port br-phy veth-$side
		"${v[@]}" add-br br-int -- set bridge br-int datapath_type=netdev
		case $kind in
		geneve) opts=(type=geneve options:key=42) ;;
		gretap) opts=(type=gre) ;; # OVS's gre carries Ethernet
		erspan1) opts=(type=erspan options:key=10 options:erspan_ver=1 options:erspan_idx=0x7b) ;;
		erspan2) opts=(type=erspan options:key=11 options:erspan_ver=2 options:erspan_dir=0 options:erspan_hwid=7) ;;
		esac
		"${v[@]}" add-port br-int tun0 -- set interface tun0 "${opts[@]}" options:remote_ip=10.77.0.$r
		ip -n "$ns" addr add 10.77.0.$l/24 dev br-phy
		ip -n "$ns" link set br-phy up
		ip -n "$ns" addr add 10.78.0.$l/24 dev br-int
		ip -n "$ns" link set br-int mtu 1400 up
	done
}
ovs_down() {
	local p
	for p in "${ovs_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	ovs_pids=()
}

# exchange NAME: curl's requests to nginx through the tunnel, captured on
# the underlay veth. ICMP is left out: under OVS the kernel answers each
# tunnel packet that reaches br-phy's address with a port unreachable.
exchange() {
	local name=$1
	ip netns exec "$nb" nginx -c "$work/nginx.conf" -e "$work/nginx.log" &
	local srv=$!
	pids+=("$srv")
	wait_for ip netns exec "$na" curl -sf -o /dev/null --max-time 1 http://10.78.0.2/index.html
	ip netns exec "$na" tcpdump -i veth-a -s 0 -U --immediate-mode -w "$work/$name.pcap" not icmp 2>"$work/$name.tcpdump.log" &
	local cap=$!
	pids+=("$cap")
	wait_for grep -q listening "$work/$name.tcpdump.log"
	local c=(ip netns exec "$na" curl -s -o /dev/null)
	"${c[@]}" http://10.78.0.2/index.html
	"${c[@]}" http://10.78.0.2/index.html http://10.78.0.2/api/items?page=2 # one connection
	"${c[@]}" -X POST -H 'Content-Type: application/json' -d '{"title":"tunnelled"}' http://10.78.0.2/api/items
	"${c[@]}" -X PUT --data-binary @"$work/www/index.html" http://10.78.0.2/api/items/7
	"${c[@]}" -I http://10.78.0.2/index.html
	"${c[@]}" http://10.78.0.2/missing
	sleep 0.5
	kill -INT "$cap"
	wait "$cap" || true
	kill "$srv"
	wait "$srv" 2>/dev/null || true
	cp "$work/$name.pcap" "$out/$name.pcap"
}

: >"$out/MADE-BY"
rewrap=()
for kind in vxlan vxlan6 geneve gretap gre erspan1 erspan2; do
	netns_up
	if kernel_up $kind; then
		exchange $kind
		echo "$kind.pcap: the kernel's $kind device ($(uname -r))" >>"$out/MADE-BY"
	else
		ip -n "$na" link del tun0 2>/dev/null || true
		ip -n "$nb" link del tun0 2>/dev/null || true
		ip -n "$na" addr flush dev veth-a
		ip -n "$nb" addr flush dev veth-b
		if ovs_up $kind; then
			exchange $kind
			echo "$kind.pcap: Open vSwitch $(ovs-vswitchd --version | head -n 1 | awk '{print $NF}') userspace datapath (this kernel, $(uname -r), has no $kind device)" >>"$out/MADE-BY"
		else
			echo "make-tunnel-fixtures: neither this kernel nor Open vSwitch makes $kind: rewrapped by scapy" >&2
			echo "$kind.pcap: scripts/tunnel-rewrap.py $kind (neither this kernel, $(uname -r), nor Open vSwitch makes it)" >>"$out/MADE-BY"
			rewrap+=($kind)
		fi
		ovs_down
	fi
	netns_down
done
for kind in "${rewrap[@]}" erspan-type1 geneve-ip gre-vxlan; do
	/usr/bin/python3 scripts/tunnel-rewrap.py "$kind" "$out/vxlan.pcap" "$out/$kind.pcap"
done
for k in erspan-type1 geneve-ip gre-vxlan; do echo "$k.pcap: scripts/tunnel-rewrap.py $k" >>"$out/MADE-BY"; done

for f in "$out"/*.pcap; do
	case $f in */link-*) continue ;; esac
	python3 scripts/tshark-exchanges.py "$f" 80 >"${f%.pcap}.txt"
	echo "$f: $(wc -l <"${f%.pcap}.txt") exchanges, $(wc -c <"$f") bytes"
done

# A link type record does not read: go-curl's first frames relabelled as
# 802.11 (record --pcap must refuse it, not write an empty trace).
editcap -F pcap -T ieee-802-11 -r testdata/pcap/go-curl.pcap "$out/link-ieee-802-11.pcap" 1-3
echo "link-ieee-802-11.pcap: editcap -T ieee-802-11 over testdata/pcap/go-curl.pcap frames 1-3" >>"$out/MADE-BY"
