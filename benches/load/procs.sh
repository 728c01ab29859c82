# shellcheck shell=bash disable=SC2034 # GROUP, CLK: read by the caller
# benches/load/procs.sh: process control and measurement shared by run.sh and h2.sh
# (sourced, never run): start a process pinned and wait for its port, stop every
# process started (by PID, TERM then KILL, children too), read CPU ticks, core busy
# time and RSS from /proc. The caller sets RUN, CONF, PROXY_THREADS, STARTED, GROUP
# and die() (run.sh also SAMPLER), and installs its own traps (stop_all on EXIT).

pid_alive() { [[ -d /proc/$1 ]] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

stop_all() {
  local i pid kids k t
  if [[ -n ${SAMPLER:-} ]] && pid_alive "$SAMPLER"; then # run.sh's CONN_SAMPLE sampler
    kids=$(pgrep -P "$SAMPLER" || true)
    # shellcheck disable=SC2086 # $kids: a list of PIDs
    kill -TERM "$SAMPLER" $kids 2>/dev/null || true
  fi
  for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
    pid=${STARTED[$i]}
    pid_alive "$pid" || continue
    kids=$(pgrep -P "$pid" || true)
    kill -TERM "$pid" 2>/dev/null || true
    for ((t = 0; t < 50; t++)); do pid_alive "$pid" || break; sleep 0.1; done
    pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
    for k in $kids; do pid_alive "$k" && kill -KILL "$k" 2>/dev/null || true; done
    wait "$pid" 2>/dev/null || true
  done
  STARTED=()
}

port_busy() { [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }

wait_port() { # port, owner pid, name
  local t
  for ((t = 0; t < 100; t++)); do
    port_busy "$1" && return 0
    pid_alive "$2" || die "$3 exited during start-up; see $RUN/logs/$3.out"
    sleep 0.1
  done
  die "$3 did not listen on 127.0.0.1:$1 within 10 s; see $RUN/logs/$3.out"
}

start_proc() { # name cpu-pin-array-name port cmd...
  local name=$1 pinvar=$2 port=$3 pid
  shift 3
  local -n pin=$pinvar
  "${pin[@]}" "$@" >"$RUN/logs/$name.out" 2>&1 &
  pid=$!
  STARTED+=("$pid")
  wait_port "$port" "$pid" "$name"
  sleep 0.3 # let nginx fork its workers
  GROUP[$name]="$pid $(pgrep -P "$pid" | tr '\n' ' ' || true)"
}

render() { sed -e "s/@WORKERS@/$PROXY_THREADS/g" -e "s/@THREADS@/$PROXY_THREADS/g" "$CONF/$1" >"$RUN/conf/$1"; }

url_port() { local hp=${1#*://}; hp=${hp%%/*}; [[ $hp == *:* ]] && echo "${hp##*:}" || echo 80; }

CLK=$(getconf CLK_TCK)

cpu_ticks() { # sum of utime+stime over the given PIDs (threads included)
  local p s=0 v
  for p in "$@"; do
    [[ -r /proc/$p/stat ]] || continue
    v=$(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$p/stat" 2>/dev/null || echo 0)
    s=$((s + v))
  done
  echo "$s"
}

core_stat() { # "busy total" jiffies for cpuN
  awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= 9; i++) t += $i; print $2 + $3 + $4 + $7 + $8, t }' /proc/stat
}

rss_kib() { # field (VmHWM or VmRSS) summed over PIDs
  local f=$1 p s=0 v
  shift
  for p in "$@"; do
    v=$(awk -v f="$f:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null || true)
    s=$((s + ${v:-0}))
  done
  echo "$s"
}

# CONN_SAMPLE: after DELAY s, the number of established connections to 19001-19003
# whose owning process (ss -p: pid=N) is one of PIDS, written to OUTFILE. Run in the
# background next to wrk, pinned with wrk, each step bounded.
