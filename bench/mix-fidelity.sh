#!/usr/bin/env bash
# How far the mix a closed-model run sends is from the recorded one: the
# total variation distance between sent and recorded (method, route)
# shares (0: the same mix, 1: nothing in common), for the sample trace and
# a synthetic trace of 40 sessions of 1 to 1,000 requests, at 1 to 200
# users, for each scenario mix (write_heavy: writes / reads, each within
# its class). The engine runs against a transport that answers at once,
# until 100,000 requests were sent (or four times the longest session per
# user, when that is more): what is sent is then the engine's choice
# alone, and the same on any machine.
#
#   bench/mix-fidelity.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MIX_TABLE=1 go test -count=1 -run '^TestMixFidelityTable$' -v ./replay/ | grep '^|'
