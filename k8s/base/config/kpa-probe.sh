# The kafka container's startupProbe, livenessProbe and preStop hook (k8s/base/statefulset.yaml),
# run by the kubelet inside the broker container with the image's bash:
#   bash kpa-probe.sh startup|liveness [AGENT_HOST:PORT] [ID_FILE]
#   bash kpa-probe.sh prestop [AGENT_HOST:PORT] [BUDGET_S]
# AGENT_HOST:PORT is kpa-agent's --listen seen from the pod (default 127.0.0.1:8080); ID_FILE
# (default /tmp/kpa-broker.id) holds "PID STARTTIME" of this container's broker process,
# written by the container's command before it execs the JVM (which keeps both). BUDGET_S
# (default 150) bounds the whole preStop hook, in seconds.
#
# Why an exec probe and not an httpGet to kpa-agent (docs/deploy.md, "The broker's probes"):
#   - startup: a broker process started by the kubelet after a crash must count as starting
#     until it has answered, whatever the process before it answered within the liveness
#     window. So the probe tells kpa-agent how old this container's process is
#     (/livez?process-age-ms=N) and passes only once a check started after that answered.
#   - liveness: the broker must not be restarted because kpa-agent is down (a crash loop, an
#     upgrade of the sidecar): kpa-agent's own probes restart kpa-agent, and a restart of a
#     healthy broker would be ungated. So only kpa-agent's own verdict, a 503 from /livez,
#     fails the liveness probe; no answer passes it, and says so in the probe's output (shown
#     in the pod's events).
#   - prestop: an httpGet hook to a kpa-agent that is not answering at that moment (a crash
#     loop, a restart of the sidecar, an OOM kill) fails at once, and the kubelet then sends
#     SIGTERM at once: an unguarded stop. So the hook waits for kpa-agent (a connection about
#     once a second), asks /prestop, and waits for its held answer, all within BUDGET_S. A 200
#     is kpa-agent's word (safe to stop, or its own --prestop-timeout ended): exit 0. A 503 is
#     no verdict (kpa-agent is shutting down, or holds too many requests): asked again. Any
#     other status, or no verdict within BUDGET_S, exits 1 and says so; the kubelet then goes
#     on with the stop, as it must.
# Only bash builtins and /proc: the apache/kafka image has no curl, and the root filesystem
# is read-only. The probes' exchange with kpa-agent is bounded (read -t against one deadline)
# well below the probes' timeoutSeconds; the hook's, by BUDGET_S.
set -u
mode=${1:-}
agent=${2:-127.0.0.1:8080}
id_file=${3:-/tmp/kpa-broker.id}
wait_s=2
# The preStop hook's bound on one connection attempt: a connect that hangs (a full listen
# backlog: SYN retransmits at 1 s and 3 s) is given up and tried again.
connect_s=5

case $mode in
startup | liveness) ;;
prestop)
        # The hook's budget against terminationGracePeriodSeconds (180 in k8s/base), which the
        # kubelet counts from the start of the hook to the broker's exit (SIGKILL then):
        #   150 s at most for the hook (waiting for kpa-agent, then its held answer), leaving
        #   30 s for the broker's controlled shutdown after SIGTERM, as a hook that kpa-agent
        #   answers at once leaves more. kpa-agent's own --prestop-timeout (120 s) fits inside
        #   the budget when kpa-agent answers within the first 30 s; later, the budget cuts
        #   its wait short. With kpa-agent up throughout, its timeout ends the hold first.
        # tests/ship checks --prestop-timeout < BUDGET_S <= terminationGracePeriodSeconds - 30.
        budget_s=${3:-150}
        if ! [[ $budget_s =~ ^[0-9]{1,4}$ ]] || ((10#$budget_s < 1 || 10#$budget_s > 3600)); then
                echo "kpa-probe.sh: budget \"$budget_s\" is not a whole number of seconds from 1 to 3600" >&2
                exit 2
        fi
        budget_s=$((10#$budget_s))
        ;;
*)
        echo "kpa-probe.sh: mode \"$mode\" is not startup, liveness or prestop" >&2
        exit 2
        ;;
esac

# The boot clock in centiseconds (/proc/uptime), into now_cs.
boot_cs() {
        local up
        read -r up _ < /proc/uptime || return 1
        [[ $up =~ ^([0-9]+)\.([0-9][0-9])$ ]] || return 1
        now_cs=$((10#${BASH_REMATCH[1]} * 100 + 10#${BASH_REMATCH[2]}))
}

# How long ago this container's broker process started, in milliseconds, from its start
# time in /proc (clock ticks since boot, USER_HZ 100 on every Linux architecture Kubernetes
# runs on) and /proc/uptime (seconds since boot with two decimals): both on the boot clock,
# so no wall-clock step enters it. Fails when the id file names no live process, or names
# one that is not the process that wrote it (the file survives in /tmp, an emptyDir, from the
# container before this one).
process_age_ms() {
        local pid start stat
        { read -r pid start < "$id_file"; } 2>/dev/null || return 1
        [[ $pid =~ ^[0-9]+$ && $start =~ ^[0-9]+$ ]] || return 1
        { read -r stat < "/proc/$pid/stat"; } 2>/dev/null || return 1
        # Fields after the command name (which may hold blanks and parentheses): the start
        # time is field 22 of the line, the 20th after the name.
        stat=${stat##*) }
        local -a f
        set -f
        f=($stat)
        set +f
        [[ ${f[19]:-} == "$start" ]] || return 1
        local now_cs
        boot_cs || return 1
        ((now_cs >= start)) || return 1
        echo $(((now_cs - start) * 10))
}

# The time left until deadline_cs as read -t's "S.CC" into left; fails once it has passed.
# One deadline for the whole answer: a wait per read would let an agent that drips its answer
# a line at a time hold the probe past its timeoutSeconds, and the kubelet counts a probe
# that timed out as failed, which for liveness would restart a healthy broker.
time_left() {
        local now_cs
        boot_cs || return 1
        local cs=$((deadline_cs - now_cs))
        ((cs > 0)) || return 1
        printf -v left '%d.%02d' $((cs / 100)) $((cs % 100))
}

# GET $1 from kpa-agent: sets status (the HTTP status, or "" when nothing answered in time)
# and body, within wait_s in all. The request runs in a background subshell so that a connect
# that hangs (a full listen backlog) or an agent that never answers cannot hold the probe.
ask() {
        local host=${agent%:*} port=${agent##*:} line left now_cs
        status=""
        body=""
        boot_cs || return 0
        local deadline_cs=$((now_cs + wait_s * 100))
        exec 3< <(
                exec 2>/dev/null
                exec 4<>"/dev/tcp/$host/$port" || exit 1
                printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$1" "$agent" >&4
                while IFS= read -r line <&4 || [[ -n $line ]]; do
                        printf '%s\n' "$line"
                done
        )
        local helper=$!
        if time_left && IFS= read -r -t "$left" line <&3 && [[ $line =~ ^HTTP/1\.[01]\ ([0-9]{3}) ]]; then
                status=${BASH_REMATCH[1]}
                # Headers up to the blank line, then the body (a few lines at most), as much
                # of it as arrives in time: the status is kpa-agent's verdict, the body only
                # says why.
                while time_left && IFS= read -r -t "$left" line <&3; do
                        [[ $line == $'\r' || -z $line ]] && break
                done
                local n=0
                while ((n < 20)) && time_left && IFS= read -r -t "$left" line <&3; do
                        body+="${line%$'\r'}"$'\n'
                        n=$((n + 1))
                done
        fi
        exec 3<&-
        kill "$helper" 2>/dev/null
        return 0
}

# The preStop hook. Waits for kpa-agent to accept a connection (tried again about once a
# second), asks /prestop and waits for its held answer, all within budget_s from now; prints
# kpa-agent's answer. A connection closed before an answer (kpa-agent killed while it held the
# request) and a 503 (no verdict: kpa-agent shutting down, or every place for a held request
# taken) are asked again: only a 200 is kpa-agent's decision. Exits 0 on a 200, 1 otherwise.
prestop() {
        local host=${agent%:*} port=${agent##*:} line left now_cs status body last="" pace helper cs n
        if ! boot_cs; then
                echo "kpa-probe.sh: /proc/uptime is unreadable, so no wait can be bounded: stopping without kpa-agent's gate"
                exit 1
        fi
        local deadline_cs=$((now_cs + budget_s * 100)) attempt_cs
        # A pipe nobody writes to: read -t on it waits without starting a process (bash has no
        # sleep builtin, and the hook must not depend on the image's binaries).
        exec {pace}<> <(:)
        while :; do
                attempt_cs=$now_cs
                status=""
                body=""
                exec 3< <(
                        exec 2>/dev/null
                        exec 4<>"/dev/tcp/$host/$port" || exit 1
                        echo connected
                        printf 'GET /prestop HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$agent" >&4
                        while IFS= read -r line <&4 || [[ -n $line ]]; do
                                printf '%s\n' "$line"
                        done
                )
                helper=$!
                # Connected within connect_s, then kpa-agent's answer within what is left of
                # the budget (it holds the request until it decides).
                if connect_left && IFS= read -r -t "$left" line <&3 && [[ $line == connected ]] &&
                        time_left && IFS= read -r -t "$left" line <&3 && [[ $line =~ ^HTTP/1\.[01]\ ([0-9]{3}) ]]; then
                        status=${BASH_REMATCH[1]}
                        while time_left && IFS= read -r -t "$left" line <&3; do
                                [[ $line == $'\r' || -z $line ]] && break
                        done
                        n=0
                        while ((n < 20)) && time_left && IFS= read -r -t "$left" line <&3; do
                                body+="${line%$'\r'}"$'\n'
                                n=$((n + 1))
                        done
                fi
                exec 3<&-
                kill "$helper" 2>/dev/null
                case $status in
                200)
                        printf '%s' "$body"
                        exit 0
                        ;;
                503) last=$body ;;
                "") ;;
                *)
                        printf 'kpa-agent at %s answered %s: %s' "$agent" "$status" "$body"
                        exit 1
                        ;;
                esac
                # The next try a second after this one began, within the budget.
                boot_cs || break
                cs=$((attempt_cs + 100 - now_cs))
                ((cs > deadline_cs - now_cs)) && cs=$((deadline_cs - now_cs))
                if ((cs > 0)); then
                        printf -v left '%d.%02d' $((cs / 100)) $((cs % 100))
                        read -r -t "$left" -u "$pace" line
                        boot_cs || break
                fi
                ((now_cs < deadline_cs)) || break
        done
        [[ -n $last ]] && printf "kpa-agent's last answer was 503: %s" "$last"
        echo "kpa-agent at $agent did not answer within ${budget_s}s: stopping without its gate"
        exit 1
}

# As time_left, but at most connect_s: the wait for one connection attempt.
connect_left() {
        local now_cs
        boot_cs || return 1
        local cs=$((deadline_cs - now_cs))
        ((cs > 0)) || return 1
        ((cs > connect_s * 100)) && cs=$((connect_s * 100))
        printf -v left '%d.%02d' $((cs / 100)) $((cs % 100))
}

if [[ $mode == prestop ]]; then
        prestop
fi

age=$(process_age_ms) || age=""
if [[ -n $age ]]; then
        ask "/livez?process-age-ms=$age"
elif [[ $mode == startup ]]; then
        # The id file is missing, or still the one of the container before this one (the
        # kubelet may probe before the command wrote it): this process has not answered yet
        # as far as anyone can tell, whatever an earlier process did.
        echo "starting: this container's broker process is not known yet ($id_file names no live process that wrote it)"
        exit 1
else
        ask "/livez"
fi

case $mode in
startup)
        # Passes only on kpa-agent's word that this process has answered.
        if [[ $status == 200 ]]; then
                echo "started: the broker process answered kpa-agent"
                exit 0
        fi
        if [[ -z $status ]]; then
                echo "starting: kpa-agent at $agent did not answer within ${wait_s}s"
        else
                printf 'starting: kpa-agent answered %s: %s' "$status" "$body"
        fi
        exit 1
        ;;
liveness)
        if [[ $status == 503 ]]; then
                printf 'not live: kpa-agent answered 503: %s' "$body"
                exit 1
        fi
        if [[ $status == 200 ]]; then
                echo "live"
        else
                echo "live as far as known: kpa-agent at $agent did not answer${status:+ with 200 or 503 (got $status)} within ${wait_s}s; its own probes restart it, and the broker is not restarted for that"
        fi
        exit 0
        ;;
esac
