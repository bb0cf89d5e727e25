#!/usr/bin/python3
"""Wraps the inner frames of a VXLAN capture in another tunnel's headers,
with scapy's implementation of them, for the kinds neither this machine's
kernel nor Open vSwitch sends (see scripts/make-tunnel-fixtures.sh). Each packet keeps its
capture time and outer IPv4 addresses; its VXLAN header and outer UDP are
replaced.

usage: tunnel-rewrap.py KIND VXLAN.pcap OUT.pcap
KIND: geneve gretap gre erspan1 erspan2 erspan-type1 geneve-ip gre-vxlan"""
import sys

from scapy.all import GRE, IP, UDP, Ether, PcapReader, PcapWriter
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III
from scapy.contrib.geneve import GENEVE, GeneveOptions
from scapy.layers.vxlan import VXLAN

kind, src, dst = sys.argv[1:]


def wrap(outer, inner, seq):
    """outer: the VXLAN packet's Ethernet frame; inner: its inner frame."""
    eth, ip = outer, outer[IP]
    top = Ether(src=eth.src, dst=eth.dst) / IP(src=ip.src, dst=ip.dst, ttl=64, id=ip.id)
    if kind == "geneve":
        return top / UDP(sport=ip[UDP].sport, dport=6081) / GENEVE(vni=42, proto=0x6558) / inner
    if kind == "geneve-ip":
        # AWS Gateway Load Balancer: the IP packet, and three 8-byte options
        # of class 0x0108 (endpoint, attachment and flow cookie).
        opts = [GeneveOptions(classid=0x0108, type=t, length=2, data=bytes(8)) for t in (1, 2, 3)]
        return top / UDP(sport=ip[UDP].sport, dport=6081) / GENEVE(vni=42, proto=0x0800, options=opts) / inner[IP]
    if kind == "gretap":
        return top / GRE(proto=0x6558) / inner
    if kind == "gre":
        return top / GRE(proto=0x0800) / inner[IP]
    if kind == "erspan-type1":
        return top / GRE(proto=0x88BE) / inner
    if kind == "erspan1":  # ERSPAN type II, as erspan_ver 1 sends it
        return top / GRE(seqnum_present=1, sequence_number=seq, proto=0x88BE) / ERSPAN_II(ver=1, session_id=123, index=0) / inner
    if kind == "erspan2":  # ERSPAN type III, as erspan_ver 2 sends it
        return top / GRE(seqnum_present=1, sequence_number=seq, proto=0x22EB) / ERSPAN_III(session_id=11, hw=7) / inner
    if kind == "gre-vxlan":  # the VXLAN packet itself, in GRE: two tunnels
        return top / GRE(proto=0x0800) / ip
    raise SystemExit(f"unknown kind {kind}")


w = PcapWriter(dst, linktype=1, sync=True)
seq = 0
for p in PcapReader(src):
    if VXLAN not in p:
        continue  # ARP and neighbour discovery of the underlay
    inner = p[VXLAN].payload
    if kind in ("gre", "geneve-ip") and IP not in inner:
        continue  # ARP inside the tunnel: these carry IP only
    seq += 1
    q = wrap(p, inner, seq)
    q.time = p.time
    w.write(q)
w.close()
