#!/usr/bin/env bash
# ceph-rgw.sh - a throwaway single-node Ceph RADOS Gateway (S3) on 127.0.0.1.
# (s3kit's copy of the team's reference bring-up; scripts/servers.py drives it for the
#  tests, the demo and the benchmark, with ports and directory chosen per run.)
#
# Debian 12 (bookworm) ships Ceph 16.2.x "Pacific". Pacific's radosgw has no
# RADOS-free "dbstore" backend (that came, experimental, in 17.x Quincy), so
# this brings up a minimal real cluster: 1 monitor + 1 OSD (memstore: objects
# live in the OSD's RAM, nothing on a disk device) + radosgw (beast frontend).
# No mgr, no cephx (auth none), pool size 1, no systemd, loopback only.
# Everything lives under $CEPH_RGW_DIR (default /tmp/ceph-rgw).
#
# Usage:
#   ceph-rgw.sh install   apt-get install the needed Debian packages (root)
#   ceph-rgw.sh start     create a fresh cluster (or reuse a running one), wait
#                         until S3 answers, print endpoint + keys on stdout as
#                         S3_ENDPOINT=... lines (eval-able; progress goes to
#                         stderr); also writes AWS_* exports to $CEPH_RGW_DIR/env
#   ceph-rgw.sh stop      stop the daemons this script started (by pid files)
#   ceph-rgw.sh status    show which daemons are running
#
# Environment (all optional):
#   CEPH_RGW_DIR         base dir                        (/tmp/ceph-rgw)
#   CEPH_RGW_PORT        S3 port on 127.0.0.1            (7480)
#   CEPH_RGW_PORT6       also serve S3 on [::1]:PORT6    (unset: IPv4 only)
#   CEPH_RGW_MON_PORT    monitor msgr2 port on 127.0.0.1 (3300; v1 = port+1)
#   CEPH_RGW_ACCESS_KEY  S3 access key                   (testaccesskey)
#   CEPH_RGW_SECRET_KEY  S3 secret key                   (testsecretkey)
#   CEPH_RGW_MEM_BYTES   memstore capacity reported by the OSD (4 GiB). NOT a
#                        real limit here: 320 MiB went into a 200 MiB store
#                        without an error. Stored data simply sits in the
#                        OSD's RAM until deleted and garbage-collected.
#   CEPH_RGW_TIMEOUT     seconds to wait for readiness   (120)
#
# Every start that finds no running gateway wipes $CEPH_RGW_DIR and builds a new,
# empty cluster (memstore keeps nothing across an OSD restart anyway: with
# Pacific's default osd_fast_shutdown the OSD exits without dumping its data).
set -euo pipefail

BASE=${CEPH_RGW_DIR:-/tmp/ceph-rgw}
PORT=${CEPH_RGW_PORT:-7480}
PORT6=${CEPH_RGW_PORT6:-}
MON_PORT=${CEPH_RGW_MON_PORT:-3300}
MON_PORT_V1=$((MON_PORT + 1))
ACCESS_KEY=${CEPH_RGW_ACCESS_KEY:-testaccesskey}
SECRET_KEY=${CEPH_RGW_SECRET_KEY:-testsecretkey}
MEM_BYTES=${CEPH_RGW_MEM_BYTES:-4294967296}
TIMEOUT=${CEPH_RGW_TIMEOUT:-120}
CONF=$BASE/ceph.conf
RUN=$BASE/run
LOG=$BASE/log
ENDPOINT=http://127.0.0.1:$PORT
PKGS=(ceph-mon ceph-osd radosgw ceph-common curl uuid-runtime)

log() { echo "[ceph-rgw] $*" >&2; }
die() { log "ERROR: $*"; [ "${STARTING:-0}" = 1 ] && fail_cleanup; exit 1; }
# a failed start leaves nothing running
fail_cleanup() { trap - ERR; STARTING=0; log "start failed, stopping what was started"; cmd_stop || true; }

ceph_() { timeout 30 ceph -c "$CONF" --connect-timeout 10 "$@"; }

cmd_install() {
    if command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null &&
       command -v radosgw >/dev/null && command -v radosgw-admin >/dev/null &&
       command -v ceph >/dev/null && command -v monmaptool >/dev/null &&
       command -v curl >/dev/null && command -v uuidgen >/dev/null; then
        log "packages already installed: $(radosgw --version 2>/dev/null | head -1)"
        return 0
    fi
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        log "cannot install Ceph here (needs root and apt-get); Ceph tests will be skipped"
        exit 3
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # --no-install-recommends keeps it to ~61 MB download / ~270 MB on disk.
    apt-get install -y -q --no-install-recommends "${PKGS[@]}"
    log "installed: $(radosgw --version | head -1)"
}

# pid file -> pid if that process is alive and is the expected binary
# started with our config file.
live_pid() {
    local name=$1 bin=$2 pid
    [ -s "$RUN/$name.pid" ] || return 1
    pid=$(cat "$RUN/$name.pid")
    [ -d "/proc/$pid" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$bin .*-c $CONF" || return 1
    echo "$pid"
}

# start a daemon; it daemonizes itself (fork + setsid) and writes
# $RUN/$name.pid ("pid file" in ceph.conf).
spawn() {
    local name=$1; shift
    rm -f "$RUN/$name.pid"
    "$@" >"$LOG/$name.out" 2>&1 </dev/null || { cat "$LOG/$name.out" >&2; die "$name failed to start"; }
}

s3_ready() {
    # anonymous ListAllMyBuckets answers 200 + XML once radosgw serves requests
    curl -sf -m 5 "$ENDPOINT/" 2>/dev/null | grep -q ListAllMyBucketsResult
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

print_creds() {
    cat >"$BASE/env" <<EOF
export AWS_ENDPOINT_URL=$ENDPOINT
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_DEFAULT_REGION=us-east-1
EOF
    echo "S3_ENDPOINT=$ENDPOINT"
    echo "S3_ACCESS_KEY=$ACCESS_KEY"
    echo "S3_SECRET_KEY=$SECRET_KEY"
    echo "S3_REGION=us-east-1"
}

write_conf() {
    local fsid=$1 endpoints="endpoint=127.0.0.1:$PORT"
    [ -z "$PORT6" ] || endpoints="$endpoints endpoint=[::1]:$PORT6"
    cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_PORT_V1]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
keyring = $BASE/keyring
run dir = $RUN
admin socket = $RUN/\$name.asok
pid file = $RUN/\$name.pid
log file = $LOG/\$name.log
log to stderr = false
err to stderr = true
mon cluster log file = $LOG/cluster.log
crash dir = $BASE/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
ms async op threads = 2
# with auth none only "crc" framing is possible; daemons default to "secure"
# for mon connections (radosgw then fails: get_initial_auth_request -13)
ms mon client mode = crc

[mon]
mon data = $BASE/mon/\$cluster-\$id
mon initial members = a
mon data avail warn = 2
mon data avail crit = 1
# every osdmap change (rgw creates ~7 pools, 2-3 changes each) otherwise waits
# ~1 s for the next paxos proposal
paxos propose interval = 0.05
paxos min wait = 0.01

[osd]
osd data = $BASE/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = $MEM_BYTES
osd op num shards = 2
osd op num threads per shard = 1
osd crush update on start = true

[client.rgw.a]
# tcp_nodelay=1: without it small GETs take ~45 ms (Nagle + delayed ACK)
rgw frontends = beast $endpoints tcp_nodelay=1
rgw data = $BASE/rgw
rgw thread pool size = 32
rgw dynamic resharding = false
rgw enable usage log = false
# deleted/overwritten tail data (objects > 4 MiB, multipart parts) is freed by
# the garbage collector; default waits 2 h, which with memstore means RAM
rgw gc obj min wait = 30
rgw gc processor period = 30
EOF
}

wait_for() { # desc, timeout, cmd...
    local desc=$1 t=$2; shift 2
    local end=$((SECONDS + t))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.5
    done
}

osd_up() { ceph_ osd dump 2>/dev/null | grep -q '^osd\.0 up'; }

show_logs() {
    local f
    for f in "$LOG"/*.out "$LOG"/mon.a.log "$LOG"/osd.0.log "$LOG"/client.rgw.a.log; do
        [ -f "$f" ] || continue
        log "---- tail $f"; tail -n 15 "$f" >&2
    done
}

cmd_start() {
    command -v ceph-mon >/dev/null || die "ceph not installed: run '$0 install'"
    local t0=$SECONDS
    if live_pid mon.a ceph-mon >/dev/null && live_pid osd.0 ceph-osd >/dev/null &&
       live_pid client.rgw.a radosgw >/dev/null && s3_ready; then
        log "already running"
        print_creds
        return 0
    fi
    cmd_stop >/dev/null 2>&1 || true
    local p
    for p in "$MON_PORT" "$MON_PORT_V1" "$PORT"; do
        ! port_busy "$p" || die "127.0.0.1:$p is already in use (set CEPH_RGW_PORT / CEPH_RGW_MON_PORT)"
    done
    STARTING=1
    trap 'fail_cleanup; exit 1' ERR

    # fresh cluster every time
    mkdir -p "$BASE"
    rm -rf "${BASE:?}"/{mon,osd,rgw,run,log,crash,keyring,monmap,ceph.conf,env}
    mkdir -p "$BASE"/{mon/ceph-a,osd/ceph-0,rgw,run,log,crash}
    local fsid ouuid id
    fsid=$(uuidgen)
    write_conf "$fsid"

    # monitor (auth is "none", but mon --mkfs still wants a keyring with mon.)
    ceph-authtool --create-keyring "$BASE/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    ceph-authtool "$BASE/keyring" --gen-key -n client.admin --cap mon 'allow *' \
        --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
    monmaptool --create --clobber --fsid "$fsid" \
        --addv a "[v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_PORT_V1]" "$BASE/monmap" >/dev/null
    ceph-mon -c "$CONF" -i a --mkfs --monmap "$BASE/monmap" --keyring "$BASE/keyring" \
        >"$LOG/mkfs-mon.out" 2>&1 || { cat "$LOG/mkfs-mon.out" >&2; die "ceph-mon --mkfs failed"; }
    spawn mon.a ceph-mon -c "$CONF" -i a
    wait_for "monitor" "$TIMEOUT" ceph_ mon stat || { show_logs; die "monitor did not come up"; }
    log "monitor up ($((SECONDS - t0))s)"

    # one memstore OSD
    ouuid=$(uuidgen)
    id=$(ceph_ osd new "$ouuid") || die "ceph osd new failed"
    [ "$id" = 0 ] || die "unexpected osd id '$id'"
    ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$ouuid" >"$LOG/mkfs-osd.out" 2>&1 ||
        { cat "$LOG/mkfs-osd.out" >&2; die "ceph-osd --mkfs failed"; }
    spawn osd.0 ceph-osd -c "$CONF" -i 0
    wait_for "osd" "$TIMEOUT" osd_up || { show_logs; die "osd did not come up"; }
    log "osd up ($((SECONDS - t0))s)"

    # gateway (creates its pools and the default zone on first start)
    spawn client.rgw.a radosgw -c "$CONF" -n client.rgw.a
    wait_for "radosgw" "$TIMEOUT" s3_ready || { show_logs; die "radosgw did not answer on $ENDPOINT"; }
    log "radosgw answering ($((SECONDS - t0))s)"

    timeout 60 radosgw-admin -c "$CONF" user create --uid=tester \
        --display-name="S3 tester" --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" \
        >"$LOG/user-create.out" 2>&1 ||
        { cat "$LOG/user-create.out" >&2; die "radosgw-admin user create failed"; }
    trap - ERR
    STARTING=0
    log "ready in $((SECONDS - t0))s"
    print_creds
}

cmd_stop() {
    local name bin pid any=0 end
    for spec in client.rgw.a:radosgw osd.0:ceph-osd mon.a:ceph-mon; do
        name=${spec%%:*}; bin=${spec#*:}
        if pid=$(live_pid "$name" "$bin"); then
            kill -TERM "$pid" 2>/dev/null || true
            end=$((SECONDS + 20))
            while [ -d "/proc/$pid" ] && [ $SECONDS -lt $end ]; do sleep 0.2; done
            if [ -d "/proc/$pid" ]; then
                log "$name ($pid) did not exit on TERM, killing"
                kill -KILL "$pid" 2>/dev/null || true
            fi
            log "stopped $name ($pid)"
            any=1
        fi
        rm -f "$RUN/$name.pid"
    done
    [ $any = 1 ] || log "nothing running"
}

cmd_status() {
    local spec name bin pid
    for spec in mon.a:ceph-mon osd.0:ceph-osd client.rgw.a:radosgw; do
        name=${spec%%:*}; bin=${spec#*:}
        if pid=$(live_pid "$name" "$bin"); then echo "$name running (pid $pid)"; else echo "$name stopped"; fi
    done
    if s3_ready; then echo "S3 answering on $ENDPOINT"; else echo "S3 not answering on $ENDPOINT"; fi
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
