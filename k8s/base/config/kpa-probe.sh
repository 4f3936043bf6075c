# The kafka container's startupProbe and livenessProbe (k8s/base/statefulset.yaml), run by the
# kubelet inside the broker container with the image's bash:
#   bash kpa-probe.sh startup|liveness [AGENT_HOST:PORT] [ID_FILE]
# AGENT_HOST:PORT is kpa-agent's --listen seen from the pod (default 127.0.0.1:8080); ID_FILE
# (default /tmp/kpa-broker.id) holds "PID STARTTIME" of this container's broker process,
# written by the container's command before it execs the JVM (which keeps both).
#
# Why an exec probe and not an httpGet to kpa-agent (docs/deploy.md, "The broker's probes"):
#   - startup: a broker process started by the kubelet after a crash must count as starting
#     until it has answered, whatever the process before it answered within the liveness
#     window. So the probe tells kpa-agent how old this container's process is
#     (/livez?process-age-ms=N) and passes only once a check started after that answered.
#   - liveness: the broker must not be restarted because kpa-agent is down (a crash loop, an
#     upgrade of the sidecar): kpa-agent's own probes restart kpa-agent, and a restart of a
#     healthy broker would be ungated (its preStop asks kpa-agent too). So only kpa-agent's
#     own verdict, a 503 from /livez, fails the liveness probe; no answer passes it, and says
#     so in the probe's output (shown in the pod's events).
# Only bash builtins and /proc: the apache/kafka image has no curl, and the root filesystem
# is read-only. The whole exchange with kpa-agent is bounded (read -t against one deadline)
# well below the probes' timeoutSeconds.
set -u
mode=${1:-}
agent=${2:-127.0.0.1:8080}
id_file=${3:-/tmp/kpa-broker.id}
wait_s=2

case $mode in
startup | liveness) ;;
*)
        echo "kpa-probe.sh: mode \"$mode\" is not startup or liveness" >&2
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
