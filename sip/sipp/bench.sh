#!/usr/bin/env bash
# SIP benchmark of linkctl's embedded switch, with sipp on loopback against
# `linkctl serve` (reported, not pass/fail). Rerunnable by anyone:
#
#   sip/sipp/bench.sh                      # defaults: 500 relayed, 200 three-way, 1500 calls at 100 cps
#   RELAY_CALLS=100 THREEWAY_CALLS=50 SETUP_CALLS=300 sip/sipp/bench.sh   # a quick run
#   RELAY_CALLS=300 THREEWAY_CALLS=0 SETUP_CALLS=0 sip/sipp/bench.sh       # one run only (0 skips a run)
#
# Runs (one after the other, on one `linkctl serve`):
#   relay     RELAY_CALLS concurrent citizen -> 12345 agent calls, relayed two-party;
#             every citizen sends a 10 s PCMU tone (500 frames) once all calls are up
#   threeway  THREEWAY_CALLS calls where the 12345 agent presses *3 (RFC 2833) and
#             the 110 agent answers: three-party mixing; the citizen sends the tone
#   setup     SETUP_CALLS short calls offered at SETUP_RATE calls/s (no media)
# Per run: calls ok/failed (sipp), CPU of the linkctl process (peak % of one core
# with every call up, and CPU-ms per call over the run), RSS (peak, and growth
# per call), RTP loss = 1 - audible frames counted at the agents / frames sent.
# The agents' SDP names benchtool's RTP counter, so every agent leg's audio from
# the switch is counted there, with the packets each leg got against its 50/s
# clock (a switch that misses media ticks sends fewer). The sipp citizen's own
# CPU is shown: on a small shared machine the load generator competes with the
# switch. Loopback only; everything is killed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TESTDATA="$ROOT/sip/sipp/testdata"
RELAY_CALLS=${RELAY_CALLS:-500}
RELAY_RATE=${RELAY_RATE:-100}
THREEWAY_CALLS=${THREEWAY_CALLS:-200}
THREEWAY_RATE=${THREEWAY_RATE:-50}
SETUP_CALLS=${SETUP_CALLS:-1500}
SETUP_RATE=${SETUP_RATE:-100}
BASE_PORT=${BASE_PORT:-25000}          # SIP 25060, ARI 25088, API 25080, sipp 25070.., RTP sink 25100
WORK=${WORK:-$(mktemp -d /tmp/linkctl-bench.XXXXXX)}
TONE_SECONDS=10
FRAMES_PER_LEG=$((TONE_SECONDS * 50))

command -v sipp >/dev/null || { echo "bench.sh: sipp not found (apt-get install sip-tester)" >&2; exit 2; }
SIP_PORT=$((BASE_PORT + 60)); ARI_PORT=$((BASE_PORT + 88)); API_PORT=$((BASE_PORT + 80))
A12345_PORT=$((BASE_PORT + 70)); A110_PORT=$((BASE_PORT + 71)); CITIZEN_PORT=$((BASE_PORT + 72))
SINK_PORT=$((BASE_PORT + 100))
SIPP_COMMON=(-i 127.0.0.1 -mi 127.0.0.1 -nostdin -timeout 120s -timeout_error -recv_timeout 60s)

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

echo "bench.sh: work dir $WORK"
cd "$WORK"
(cd "$ROOT" && go build -o "$WORK/linkctl" ./cmd/linkctl && go build -o "$WORK/benchtool" ./sip/sipp/benchtool)
./benchtool tone-pcap -o tone.pcap -hz 1000 -seconds "$TONE_SECONDS"
cp "$TESTDATA/dtmf_star3.pcap" softkey.pcap

cat > bench.yaml <<EOF
log: {level: error}
ari: {embedded: true, username: linkctl, password: bench-secret, application: linkctl}
switch: {listen: "127.0.0.1:$ARI_PORT", sim_endpoints: []}
sip:
  listen_udp: "127.0.0.1:$SIP_PORT"
  listen_tcp: ""
  external_media_ip: 127.0.0.1
  rtp_port_min: 30000
  rtp_port_max: 39999
  allow_anonymous: true
  accounts:
    - {username: a12345-1001, password: demo-a12345-1001, platform: "12345", agent_id: a12345-1001}
    - {username: a110-2001, password: demo-a110-2001, platform: "110", agent_id: a110-2001}
controller:
  groups:
    "12345": {agents: [PJSIP/a12345-1001], strategy: ring-all, ring_timeout: 30s}
    "110": {agents: [PJSIP/a110-2001], strategy: ring-all, ring_timeout: 30s}
  transfer_ring_timeout: 30s
  dtmf_category: {"12345->110": "社会治安类/盗砸抢骗"}
store: {path: "$WORK/bench.db"}
api: {listen: "127.0.0.1:$API_PORT"}
EOF
./linkctl config check bench.yaml >/dev/null

./linkctl serve -config bench.yaml >serve.out 2>serve.err &
SERVE=$!; pids+=("$SERVE")
for _ in $(seq 100); do
	(echo >/dev/tcp/127.0.0.1/$API_PORT) 2>/dev/null && break
	sleep 0.1
done
kill -0 "$SERVE" || { cat serve.err; exit 1; }

for agent in a12345-1001:$A12345_PORT a110-2001:$A110_PORT; do
	user=${agent%%:*}; port=${agent##*:}
	sipp "${SIPP_COMMON[@]}" -sf "$TESTDATA/register.xml" -p "$port" -s "$user" -au "$user" -ap "demo-$user" \
		-m 1 "127.0.0.1:$SIP_PORT" >"register-$user.out" 2>&1 || { echo "register $user failed"; tail register-$user.out; exit 1; }
done

# proc_sample FILE STOP: every 0.5 s, "uptime-seconds cpu-ticks rss-kB" of linkctl until STOP exists.
proc_sample() {
	local out=$1 stop=$2
	while [ ! -e "$stop" ]; do
		read -r up _ </proc/uptime
		ticks=$(awk '{print $14+$15}' "/proc/$SERVE/stat" 2>/dev/null || echo 0)
		rss=$(awk '/VmRSS/ {print $2}' "/proc/$SERVE/status" 2>/dev/null || echo 0)
		echo "$up $ticks $rss" >>"$out"
		sleep 0.5
	done
}

# stat COLUMN CSV: the last value of a sipp -trace_stat column.
stat() { awk -F';' -v col="$1" 'NR==1 {for (i=1;i<=NF;i++) if ($i==col) c=i} END {print $c+0}' "$2"; }

HZ=$(getconf CLK_TCK)
RESULTS=()

# run NAME CALLS RATE LEAD_MS LEGS AGENT12345_XML [AGENT110_XML]
run() {
	local name=$1 calls=$2 rate=$3 lead=$4 legs=$5 a12345=$6 a110=${7:-}
	[ "$calls" -gt 0 ] || return 0
	echo "== $name: $calls calls at $rate/s"
	./benchtool count -listen "127.0.0.1:$SINK_PORT" -out "$name-rtp.txt" 2>/dev/null &
	local counter=$!; pids+=("$counter")
	sipp "${SIPP_COMMON[@]}" -sf "$TESTDATA/$a12345" -p "$A12345_PORT" -mp $((BASE_PORT + 200)) \
		-key sink_ip 127.0.0.1 -key sink_port "$SINK_PORT" -m "$calls" -l $((calls + 50)) >"$name-a12345.out" 2>&1 &
	local uas1=$!; pids+=("$uas1")
	local uas2=""
	if [ -n "$a110" ]; then
		sipp "${SIPP_COMMON[@]}" -sf "$TESTDATA/$a110" -p "$A110_PORT" -mp $((BASE_PORT + 300)) \
			-key sink_ip 127.0.0.1 -key sink_port "$SINK_PORT" -m "$calls" -l $((calls + 50)) >"$name-a110.out" 2>&1 &
		uas2=$!; pids+=("$uas2")
	fi
	sleep 0.5
	local scen=bench_citizen_uac.xml
	[ "$name" = setup ] && scen=citizen_uac.xml
	proc_sample "$name-proc.txt" "$name-proc.stop" &
	local sampler=$!
	sleep 1
	local t0; t0=$(date +%s.%N)
	local TIMEFORMAT='%U %S %R'
	{ time sipp "${SIPP_COMMON[@]}" -sf "$TESTDATA/$scen" -p "$CITIZEN_PORT" -mp $((BASE_PORT + 400)) -s 12345 \
		-d "$lead" -r "$rate" -l "$calls" -m "$calls" -trace_stat -stf "$name-stat.csv" -fd 1 \
		"127.0.0.1:$SIP_PORT" >"$name-citizen.out" 2>&1 || true; } 2>"$name-citizen.time"
	local t1; t1=$(date +%s.%N)
	# the load generator's own CPU (sipp citizen), % of one core over its run
	local gen; gen=$(awk '{printf "%.0f%%", ($1+$2)/$3*100}' "$name-citizen.time")
	sleep 1
	touch "$name-proc.stop"; wait "$sampler" 2>/dev/null || true
	wait "$uas1" 2>/dev/null || true
	[ -n "$uas2" ] && { wait "$uas2" 2>/dev/null || true; }
	kill "$counter" 2>/dev/null || true; wait "$counter" 2>/dev/null || true

	local ok failed; ok=$(stat "SuccessfulCall(C)" "$name-stat.csv"); failed=$(stat "FailedCall(C)" "$name-stat.csv")
	local audio=0 packets=0 seqlost=0 clock=0
	if [ -s "$name-rtp.txt" ]; then
		audio=$(sed -n 's/.*audio_frames=\([0-9]*\).*/\1/p' "$name-rtp.txt")
		packets=$(sed -n 's/.* packets=\([0-9]*\).*/\1/p' "$name-rtp.txt")
		seqlost=$(sed -n 's/.*seq_lost=\([0-9]*\).*/\1/p' "$name-rtp.txt")
		clock=$(sed -n 's/.*clock_frames=\([0-9]*\).*/\1/p' "$name-rtp.txt")
	fi
	# CPU: peak % of one core over any 5 s window; CPU-ms per call over the whole run. RSS: peak, growth per call.
	awk -v hz="$HZ" -v calls="$calls" -v legs="$legs" -v frames="$FRAMES_PER_LEG" -v ok="$ok" -v failed="$failed" \
		-v audio="$audio" -v packets="$packets" -v seqlost="$seqlost" -v name="$name" -v t0="$t0" -v t1="$t1" -v lead="$lead" -v clock="$clock" -v gen="$gen" '
		{ t[NR]=$1; c[NR]=$2; r[NR]=$3 }
		END {
			peak=0
			for (i=1;i<=NR;i++) for (j=i;j<=NR;j++) if (t[j]-t[i] >= 5) { p=(c[j]-c[i])/hz/(t[j]-t[i])*100; if (p>peak) peak=p; break }
			rss=0; for (i=1;i<=NR;i++) if (r[i]>rss) rss=r[i]
			cpums=(c[NR]-c[1])/hz*1000/(ok>0?ok:1)
			rsscall=(rss-r[1])/(calls>0?calls:1)
			loss="-"; got="-"
			if (legs>0) {
				expect=ok*legs*frames; got=sprintf("%d/%d", audio, expect)
				loss=(expect>0)? sprintf("%.3f%%", (audio>=expect? 0 : (1-audio/expect)*100)) : "n/a"
			}
			fail=sprintf("%.2f%%", (ok+failed>0)? failed/(ok+failed)*100 : 100)
			rate="-"
			if (name=="setup") rate=sprintf("%.0f", ok/(t1-t0-lead/1000))
			pace=(clock>0)? sprintf("%.2f%%", packets/clock*100) : "-"
			percall=(name=="setup")? "-" : sprintf("%.2f%%", peak/(calls>0?calls:1))
			printf "%s|%d|%d|%d|%s|%s|%.0f%%|%s|%.1f|%.0f|%.0f|%s|%s|%s|%d|%s\n", name, calls, ok, failed, fail, rate, peak, percall, cpums, rss/1024, rsscall, got, loss, pace, seqlost, gen
		}' "$name-proc.txt" >"$name-result.txt"
	RESULTS+=("$(cat "$name-result.txt")")
	cat "$name-result.txt"
	kill -0 "$SERVE" || { echo "linkctl serve died"; tail -20 serve.err; exit 1; }
}

# relay: the lead covers the ramp (calls/rate s) plus a second, so every tone overlaps
run relay "$RELAY_CALLS" "$RELAY_RATE" $(( (RELAY_CALLS * 1000 / RELAY_RATE) + 1000 )) 1 bench_agent_uas.xml
sleep 2
run threeway "$THREEWAY_CALLS" "$THREEWAY_RATE" $(( (THREEWAY_CALLS * 1000 / THREEWAY_RATE) + 4000 )) 2 bench_agent_softkey_uas.xml bench_agent_uas.xml
sleep 2
run setup "$SETUP_CALLS" "$SETUP_RATE" 1000 0 bench_agent_uas.xml

echo
echo "linkctl SIP benchmark ($(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), sipp $(sipp -v 2>&1 | awk '/SIPp v/ {print $2}'))"
echo "| run | calls | ok | failed | failed % | setup calls/s | peak CPU (1 core = 100%) | CPU per concurrent call | CPU-ms per call | peak RSS MiB | RSS growth KiB/call | audible frames at agents / sent | RTP loss | agent legs' packets vs 50/s | seq gaps | sipp citizen CPU |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for r in "${RESULTS[@]}"; do echo "|${r//|/ | }|"; done
echo "(work dir $WORK: sipp outputs, stats CSV, samples, serve.err)"
