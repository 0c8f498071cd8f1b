# Drives tests/modules/rnbd_sync_test: module parameters (load time,
# modprobe, sysfs, refused values), spinlocks taken from a timer, a worker
# and process context at once, self-rearming delayed work and timers
# cancelled while they re-arm, delay changes, completions, then unload
# with everything armed and 50 load/unload cycles.
. "$RNBD_REPO/tests/lib/common.sh"

mod=rnbd_sync_test

ko=$(modinfo -n rnbd_sync_test) || fail "no module rnbd_sync_test in the installed tree (make install)"
mod=rnbd_sync_test
ctl=/sys/devices/virtual/rnbd-sync-test/ctl
params=/sys/module/$mod/parameters

cmd() { echo "$*" > "$ctl/command"; }
# stat_of NAME: a counter from ctl/stats (bash builtins only: execs are
# slow under TCG).
stat_of() {
    local k v
    while read -r k v; do
        [[ $k == "$1" ]] && { echo "$v"; return; }
    done < "$ctl/stats"
}
stat_is() { [[ $(stat_of "$1") == "$2" ]]; }
# within NAME VALUE MIN MAX
within() {
    (($2 >= $3 && $2 <= $4)) || fail "$1 = $2, expected $3..$4"
    log "ok: $1 = $2 (in $3..$4)"
}
# after NAME MEASURED_MS DELAY_MS MAX_MS: a delay measured with ktime is at
# least the requested one, less 10% (jiffies, which delays count, can
# catch up in bursts under TCG).
after() { within "$1" "$2" $(($3 * 9 / 10)) "$4"; }
ms_now() { echo $(($(date +%s%N) / 1000000)); }
param() { cat "$params/$1"; }
clean_unloads() { dmesg | grep -c "rnbd_sync_test: unloaded: 0 armed callbacks left"; }

# --- Parameters -----------------------------------------------------------

modinfo "$ko" | grep "^parm: *port_nr:The port number the server is listening on (default: 1234) (ushort)$" > /dev/null \
    || fail "modinfo lacks port_nr"
expect_eq "$(modinfo -F parmtype "$ko" | sort | tr '\n' ' ')" \
    "always_invalidate:bool dev_search_path:string hb_interval_ms:uint label:string max_chunk_size:int port_nr:ushort sess_queue_depth:int " \
    "parameter types in modinfo"

modprobe $mod
expect_eq "$(ls "$params" | tr '\n' ' ')" \
    "always_invalidate dev_search_path hb_interval_ms label max_chunk_size port_nr sess_queue_depth " "parameter files"
for p in always_invalidate dev_search_path max_chunk_size port_nr sess_queue_depth; do
    expect_eq "$(stat -c %a "$params/$p")" 444 "$p mode"
done
expect_eq "$(stat -c %a "$params/hb_interval_ms") $(stat -c %a "$params/label")" "644 644" "writable parameter modes"
expect_eq "$(param port_nr) $(param always_invalidate) $(param max_chunk_size) $(param sess_queue_depth) $(param dev_search_path) $(param hb_interval_ms) $(param label)" \
    "1234 Y 131072 512 / 10 none" "defaults in sysfs"
expect_eq "$(stat_of param_port_nr) $(stat_of param_always_invalidate) $(stat_of param_max_chunk_size) $(stat_of param_sess_queue_depth) $(stat_of param_dev_search_path) $(stat_of param_hb_interval_ms) $(stat_of param_label)" \
    "1234 1 131072 512 / 10 none" "defaults as Rust reads them"
in_dmesg "rnbd_sync_test: loaded: port_nr=1234 always_invalidate=Y max_chunk_size=131072 sess_queue_depth=512 dev_search_path='/'" \
    || fail "no load line with the defaults"

# Read-only files refuse writes; writable ones validate through Rust.
expect_fail "Permission denied" bash -c "echo 1 > $params/port_nr"
expect_fail "Permission denied" bash -c "echo /x > $params/dev_search_path"
echo 25 > "$params/hb_interval_ms"
expect_file "$params/hb_interval_ms" 25
expect_eq "$(stat_of param_hb_interval_ms)" 25 "hb_interval_ms as Rust reads it"
expect_fail "Invalid argument" bash -c "echo 0 > $params/hb_interval_ms"
expect_fail "Invalid argument" bash -c "echo 10001 > $params/hb_interval_ms"
expect_fail "Invalid argument" bash -c "echo ten > $params/hb_interval_ms"
expect_fail "Numerical result out of range" bash -c "echo 99999999999 > $params/hb_interval_ms"
echo 0x14 > "$params/hb_interval_ms"    # base 0, as C's kstrtouint
expect_file "$params/hb_interval_ms" 20
echo abc > "$params/label"
expect_file "$params/label" abc
expect_eq "$(stat_of param_label)" abc "label as Rust reads it"
expect_fail "Invalid argument" bash -c "echo Abc > $params/label"
expect_fail "No space left on device" bash -c "echo abcdefghijklmnop > $params/label"
echo abcdefghijklmno > "$params/label"
expect_file "$params/label" abcdefghijklmno
rmmod $mod

# Values at load time, through modprobe from a module tree of our own.
tree=/tmp/modtree
mkdir -p "$tree/lib/modules/$(uname -r)/extra"
cp "$ko" "$tree/lib/modules/$(uname -r)/extra/"
# The lists depmod expects (their absence is a "WARNING:", which the
# harness would take for a kernel one).
touch "$tree/lib/modules/$(uname -r)/"{modules.order,modules.builtin,modules.builtin.modinfo}
depmod -b "$tree" "$(uname -r)"
modprobe -d "$tree" $mod port_nr=0x10e1 always_invalidate=N max_chunk_size=65536 sess_queue_depth=128 \
    'dev_search_path=/dev/%SESSNAME%/' hb_interval_ms=7 label=xyz
expect_eq "$(param port_nr) $(param always_invalidate) $(param max_chunk_size) $(param sess_queue_depth) $(param dev_search_path) $(param hb_interval_ms) $(param label)" \
    "4321 N 65536 128 /dev/%SESSNAME%/ 7 xyz" "modprobe values in sysfs"
expect_eq "$(stat_of param_port_nr) $(stat_of param_always_invalidate) $(stat_of param_max_chunk_size) $(stat_of param_sess_queue_depth) $(stat_of param_dev_search_path)" \
    "4321 0 65536 128 /dev/%SESSNAME%/" "modprobe values as Rust reads them"
in_dmesg "loaded: port_nr=4321 always_invalidate=N max_chunk_size=65536 sess_queue_depth=128 dev_search_path='/dev/%SESSNAME%/'" \
    || fail "no load line with the modprobe values"
modprobe -d "$tree" -r $mod
# A bool without a value means Y; dev_search_path keeps what precedes
# its last newline, as upstream's setter.
modprobe $mod always_invalidate 'dev_search_path="/srv/a
b"'
expect_eq "$(param always_invalidate) $(param dev_search_path)" "Y /srv/a" "bool without value, path cut at the newline"
rmmod $mod

# Refused values: the load fails with the errno of the check (kmod's
# modprobe prints every errno with strerror: EINVAL is "Invalid argument").
bad() {
    local want=$1
    shift
    expect_fail "$want" modprobe $mod "$@"
    [[ ! -d /sys/module/$mod ]] || fail "$mod loaded with $*"
}
bad "Invalid argument" max_chunk_size=1000
bad "Invalid argument" max_chunk_size=12288
bad "Invalid argument" sess_queue_depth=0
bad "Invalid argument" sess_queue_depth=65536
bad "Numerical result out of range" port_nr=65536
bad "Invalid argument" port_nr=port
bad "Invalid argument" always_invalidate=maybe
bad "Invalid argument" hb_interval_ms=0
bad "Invalid argument" "dev_search_path=/$(printf 'p%.0s' $(seq 4095))"
bad "No space left on device" label=abcdefghijklmnop
# Each value valid alone, the combination not (checked in module init).
bad "Invalid argument" sess_queue_depth=65535 max_chunk_size=131072
in_dmesg "rnbd_sync_test: \`1000' invalid for parameter \`max_chunk_size'" || fail "no parse error line"
in_dmesg "RDMA immediate size (28b) not enough to encode 65535 buffers of size 131072B" \
    || fail "no combination error line"
# An unknown parameter is ignored with a notice, as for C modules.
modprobe $mod nosuch=1
in_dmesg "rnbd_sync_test: unknown parameter 'nosuch' ignored" || fail "no unknown parameter notice"
rmmod $mod
longest=/$(printf 'p%.0s' $(seq 4094))   # 4095 bytes
modprobe $mod "dev_search_path=$longest"
# The page holds the value but not its newline, as with C's scnprintf.
[[ $(param dev_search_path) == "$longest" ]] || fail "longest dev_search_path not kept"
log "ok: the longest dev_search_path (4095 bytes) is kept"
rmmod $mod

# --- Spinlocks: softirq, a worker and two writers at once -----------------

modprobe $mod
cmd stress_start
cmd hb_start 1
( cmd spin 20000 ) &
( cmd spin 20000 ) &
wait
sleep 0.5
cmd stress_stop
cmd hb_stop
timer_incs=$(stat_of incs_timer) work_incs=$(stat_of incs_work) proc_incs=$(stat_of incs_process)
expect_eq "$(stat_of counter)" $((timer_incs + work_incs + proc_incs)) "bh counter = increments from all contexts"
expect_eq "$(stat_of counter_irq)" $((timer_incs + work_incs + proc_incs)) "irqsave counter = increments from all contexts"
expect_eq "$proc_incs" 40000 "process-context increments"
expect_eq "$((timer_incs % 64))" 0 "timer increments come in ticks of 64"
within "stress timer ticks" "$(stat_of stress_ticks)" 20 100000
within "heartbeat ticks" "$(stat_of hb_ticks)" 20 100000
expect_eq "$(stat_of stress_pending) $(stat_of hb_pending)" "0 0" "stress timer and heartbeat stopped"
summary "spinlocks: $((timer_incs + work_incs + proc_incs)) increments from softirq ($timer_incs), a worker ($work_incs) and two writers ($proc_incs), none lost"

# --- Delayed work -----------------------------------------------------------

# A 10 ms heartbeat re-arming itself: ticks follow the elapsed time.
t0=$(stat_of hb_ticks)
start=$(ms_now)
cmd hb_start 10
sleep 1
cmd hb_stop
elapsed=$(($(ms_now) - start))
ticks=$(($(stat_of hb_ticks) - t0))
within "heartbeat ticks in ${elapsed} ms" "$ticks" $((elapsed / 40)) $((elapsed / 9 + 2))
sleep 0.3
expect_eq "$(($(stat_of hb_ticks) - t0))" "$ticks" "heartbeat ticks after stop"
hb_rate="$ticks ticks in $elapsed ms"

# Cancelled from inside its own callback, right after re-arming itself.
t0=$(stat_of hb_ticks)
cmd hb_stop_at 5
cmd hb_start 2
wait_until 10 stat_is hb_self_cancelled 1
sleep 0.2
expect_eq "$(($(stat_of hb_ticks) - t0)) $(stat_of hb_pending)" "5 0" "heartbeat stopped by its own 5th tick"

# Cancelled while it re-arms itself with 0 and 1 jiffy delays, 200 times.
cmd hb_race 200
expect_eq "$(stat_of hb_race_iterations) $(stat_of hb_race_failures)" "200 0" "cancel races"

# Disabled: queueing refused until enabled again.
cmd hb_disable
expect_fail "Device or resource busy" cmd hb_start 10
cmd hb_enable
cmd hb_start 10
cmd hb_stop

# The reconnect work: delay shortened, lengthened, refused twice, cancelled,
# flushed.
cmd reconnect 5000
cmd reconnect_mod 100
wait_until 10 stat_is reconnect_fired 1
after "reconnect delay after mod 5000->100 ms" "$(stat_of reconnect_delay_ms)" 100 1500
# (Measured from the mod: had the old 1000 ms expiry stayed, it would
# read under 1000.)
cmd reconnect 1000
cmd reconnect_mod 2000
wait_until 10 stat_is reconnect_fired 2
after "reconnect delay after mod 1000->2000 ms" "$(stat_of reconnect_delay_ms)" 2000 5000
sleep 0.2
expect_eq "$(stat_of reconnect_fired) $(stat_of reconnect_pending)" "2 0" "reconnect ran once"
cmd reconnect 60000
expect_fail "Device or resource busy" cmd reconnect 60000
cmd reconnect_flush
expect_eq "$(stat_of reconnect_fired) $(stat_of reconnect_pending)" "3 0" "flushed reconnect ran at once"
within "flushed reconnect delay" "$(stat_of reconnect_delay_ms)" 0 30000
cmd reconnect 5000
cmd reconnect_cancel
sleep 0.2
expect_eq "$(stat_of reconnect_fired) $(stat_of reconnect_cancelled) $(stat_of reconnect_pending)" "3 1 0" "cancelled reconnect"
expect_fail "Invalid argument" cmd wrong_owner
cmd wq_spawn 100
expect_eq "$(stat_of wq_spawned)" 100 "closures run on our workqueue before its flush returned"
expect_fail "Invalid argument" cmd bad_workqueue

# --- Timers ------------------------------------------------------------------

cmd timer 100
wait_until 10 stat_is timer_fired 1
after "timer delay" "$(stat_of timer_delay_ms)" 100 1500
cmd timer 5000
cmd timer 50     # mod_timer: the new expiry replaces the old one
wait_until 10 stat_is timer_fired 2
after "timer delay after re-arm 5000->50 ms" "$(stat_of timer_delay_ms)" 50 1500
sleep 0.2
expect_eq "$(stat_of timer_fired) $(stat_of timer_pending)" "2 0" "re-armed timer fired once"
cmd timer 5000
cmd timer_cancel
sleep 0.2
expect_eq "$(stat_of timer_fired) $(stat_of timer_cancelled) $(stat_of timer_pending)" "2 1 0" "cancelled timer"
# The stress timer cancels itself from its own callback after re-arming.
t0=$(stat_of stress_ticks)
cmd stress_stop_at 20
cmd stress_start
wait_until 10 stat_is stress_self_cancelled 1
sleep 0.2
expect_eq "$(($(stat_of stress_ticks) - t0)) $(stat_of stress_pending)" "20 0" "stress timer stopped by its own 20th tick"

# --- Completions ---------------------------------------------------------------

expect_fail "Connection timed out" cmd wait 100
after "timed-out wait" "$(stat_of last_wait_ms)" 100 1500
expect_fail "Resource temporarily unavailable" cmd try_wait
cmd complete_after 200
cmd wait 5000
after "wait completed by a work after 200 ms" "$(stat_of last_wait_ms)" 200 3000
cmd complete
cmd complete
cmd wait 10
cmd try_wait
expect_fail "Connection timed out" cmd wait 50
# complete() wakes one of two waiters.
( cmd wait 3000 && echo ok || echo timeout ) > /tmp/w1 2>/dev/null &
( cmd wait 3000 && echo ok || echo timeout ) > /tmp/w2 2>/dev/null &
sleep 0.5
cmd complete
wait
expect_eq "$(cat /tmp/w1 /tmp/w2 | sort | tr '\n' ' ')" "ok timeout " "one complete, two waiters"
# complete_all() wakes both, and later waits too, until reinit.
( cmd wait 5000 && echo ok || echo timeout ) > /tmp/w1 2>/dev/null &
( cmd wait 5000 && echo ok || echo timeout ) > /tmp/w2 2>/dev/null &
sleep 0.3
cmd complete_all_after 200
wait
expect_eq "$(cat /tmp/w1 /tmp/w2 | tr '\n' ' ')" "ok ok " "complete_all, two waiters"
cmd wait 10
expect_eq "$(stat_of done)" 1 "done after complete_all"
cmd reinit
expect_eq "$(stat_of done)" 0 "not done after reinit"
expect_fail "Connection timed out" cmd wait 20
cmd complete_after 100
cmd wait_forever
expect_eq "$(stat_of armed)" 0 "nothing armed"
unloads=$(clean_unloads)
rmmod $mod
expect_eq "$(($(clean_unloads) - unloads))" 1 "clean unload"

# --- Unload with everything armed, then 50 load/unload cycles ---------------

unloads=$(clean_unloads)
modprobe $mod
cmd stress_start
cmd hb_start 1
cmd reconnect 60000
cmd timer 60000
cmd complete_after 60000
within "armed callbacks" "$(stat_of armed)" 4 5
rmmod $mod
[[ ! -e $ctl ]] || fail "ctl left after rmmod"
for i in $(seq 1 50); do
    modprobe $mod hb_interval_ms=$((i % 5 + 1))
    cmd stress_start
    cmd hb_start
    cmd reconnect $((i * 10))
    cmd timer $((i * 10))
    cmd spin 100
    rmmod $mod
done
expect_eq "$(($(clean_unloads) - unloads))" 51 "clean unloads with callbacks armed"
summary "params: 7 of 4 types at load, modprobe and sysfs, 11 refused loads, 7 refused writes; delayed work: heartbeat $hb_rate, self-cancel, 200 cancel races, mod_delayed_work; timers; completions; 51 unloads with everything armed"
