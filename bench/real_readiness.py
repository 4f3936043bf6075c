#!/usr/bin/python3
"""bench: the gate's own overhead on real brokers. With the manifest's flags (--interval 5s,
--fast-interval 250ms, --ready-after 2), how long after the local broker is back in every ISR
does kpa-agent's /readyz answer 200? This kpa-agent side by side with a baseline kpa-agent
(another build, e.g. the commit before a change) in the same pod, watching the same broker,
through the same restarts: both see every ISR change at the same moment, so the ratio compares
the agents alone.

A 3-node combined-mode Apache Kafka cluster from k8s/base (tests/kafka/harness.py; root, Java
17, the jars cached by tests/kafka/provision.sh). One topic of PARTITIONS partitions, RF 3. Each
trial restarts kafka-0's broker (SIGTERM, exit, start again; both agents stay up, as a native
sidecar does), waits until a metadata watcher asking kafka-1 every 20 ms sees kafka-0 in every
ISR again, and until both agents' /readyz (polled every 20 ms) answers 200. Per agent:

  ISR complete -> /readyz 200        the overhead, p50 and p99 over the trials
  ISR complete -> first good check   /readyz?verbose first says "1 of 2 consecutive good checks"
                                     (the wait for the next check, plus its duration)
  first good check -> 200            the confirming check (its spacing, plus its duration)
  check duration                     /status last_check.duration_ms once ready, and the longest
                                     answered check from the restart to the 200

and the steady load: checks of a ready broker over STEADY_S seconds (kpa_checks_total).

    sudo bench/real_readiness.py --build build/dev --baseline /path/to/old/build [--trials 12]

Prints a Markdown section on stdout (bench/RESULTS.md's format); progress on stderr.
"""
import argparse
import os
import re
import signal
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "kafka"))

PARTITIONS = 12
POLL_S = 0.02
STEADY_S = 30
BASE_PORT = 8081


def pct(xs, p):
    """Nearest-rank percentile."""
    s = sorted(xs)
    rank = max(1, min(len(s), int(p / 100.0 * len(s) + 0.999999)))
    return s[rank - 1]


class ReadyzPoller:
    """GET /readyz?verbose every POLL_S on a thread: the times of the first "1 of N
    consecutive" answer and of the first 200 after arm()."""

    def __init__(self, h, pod, port):
        self.h, self.url = h, f"http://{pod.ip}:{port}/readyz?verbose"
        self.status_url = f"http://{pod.ip}:{port}/status"
        self.durations = {}      # check number (last_check.total) -> its duration, seconds
        self.lock = threading.Lock()
        self.since = None
        self.first_good = self.ok = None
        self.samples = []
        self.stopped = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def arm(self, since):
        with self.lock:
            self.since, self.first_good, self.ok, self.samples = since, None, None, []
            self.durations = {}

    def _run(self):
        while not self.stopped.is_set():
            t = time.monotonic()
            code, body = self.h.http_get(self.url, 2.0)
            if self.since is not None and self.ok is None:
                self._sample_status()
            with self.lock:
                if self.since is not None and t >= self.since and self.ok is None:
                    self.samples.append((t, code, body))
                    if self.first_good is None and (code == 200 or re.search(r"\b1 of \d+ consecutive", body)):
                        self.first_good = t
                    if self.ok is None and code == 200:
                        self.ok = t
            self.stopped.wait(max(0.0, POLL_S - (time.monotonic() - t)))

    def _sample_status(self):
        import json
        code, body = self.h.http_get(self.status_url, 2.0)
        try:
            lc = json.loads(body)["last_check"] if code == 200 else None
        except (ValueError, KeyError):
            lc = None
        # Answered checks only (no error): a check of a broker that is down lasts until the
        # check timeout and says nothing about what an answer costs.
        if (lc and lc.get("error") is None and isinstance(lc.get("duration_ms"), (int, float))
                and isinstance(lc.get("total"), int)):
            with self.lock:
                self.durations[lc["total"]] = lc["duration_ms"] / 1000.0

    def longest_check(self):
        """The longest answered check seen from the restart to the 200."""
        with self.lock:
            return max(self.durations.values()) if self.durations else None

    def result(self):
        with self.lock:
            return self.first_good, self.ok

    def failing_after(self, t0):
        """The failing checks ([-]name) /readyz named last before its 200, if that answer came
        after t0 (the ISR complete): what held it then."""
        with self.lock:
            last = [b for t, c, b in self.samples if t >= t0 and c == 503]
        if not last:
            return []
        return sorted(set(re.findall(r"^\[-\](\w+) failed", last[-1], re.M)))


def checks_ok(h, pod, port):
    code, body = h.http_get(f"http://{pod.ip}:{port}/metrics", 5.0)
    m = re.search(r'^kpa_checks_total\{result="ok"\} (\d+)', body, re.M)
    if code != 200 or not m:
        raise RuntimeError(f"no kpa_checks_total from port {port}")
    return int(m.group(1))


def duration_ms(h, pod, port):
    import json
    code, body = h.http_get(f"http://{pod.ip}:{port}/status", 5.0)
    return json.loads(body)["last_check"]["duration_ms"] if code == 200 else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True, help="build folder of the kpa-agent measured")
    ap.add_argument("--baseline", required=True, help="build folder of the baseline kpa-agent")
    ap.add_argument("--baseline-name", default="baseline")
    ap.add_argument("--trials", type=int, default=12)
    a = ap.parse_args()
    os.environ["KPA_BUILD_DIR"] = os.path.abspath(a.build)
    import harness as h

    env = h.Env()
    try:
        pods = [env.pod("kafka", i) for i in range(3)]
        env.start(pods)
        for p in pods:
            p.wait_ready(180)
        local = pods[0]
        # The baseline agent: the same container, flags and files, another binary, another port.
        c = local.container("kpa-agent")
        opts = local.mount_args(c)
        opts[opts.index("--kpa-bin") + 1] = os.path.abspath(a.baseline)
        argv = (["ip", "netns", "exec", local.ns, "unshare", "-m", "-u", "--propagation", "private",
                 os.path.join(h.HERE, "podexec")] + opts + ["--"] + c["command"]
                + local.agent_args({"--listen": f"0.0.0.0:{BASE_PORT}"}))
        h.Proc(env, "kafka-0/kpa-agent-baseline", argv, os.path.join(local.root, "agent-baseline.log"),
               local.container_env(c))
        boot = ",".join(f"{p.fqdn}:9092" for p in pods)
        env.probe("create-topic", "--bootstrap", boot, "--topic", "bench", "--partitions", str(PARTITIONS),
                  "--replication-factor", "3")
        ports = {"kpa": local.agent_port, a.baseline_name: BASE_PORT}
        for port in ports.values():
            h.wait_for(lambda: h.http_get(f"http://{local.ip}:{port}/readyz")[0] == 200, 120,
                       f"/readyz 200 on port {port}")
        # Steady load of a ready broker, both agents over the same window.
        k0 = {n: checks_ok(h, local, p) for n, p in ports.items()}
        time.sleep(STEADY_S)
        steady = {n: checks_ok(h, local, p) - k0[n] for n, p in ports.items()}

        watcher = h.MetaWatcher(pods[1], ["bench"], min_isr=2, interval=POLL_S)
        pollers = {n: ReadyzPoller(h, local, p) for n, p in ports.items()}
        nid = local.node_id
        res = {n: {"lat": [], "wait": [], "confirm": [], "dur": [], "longest": [], "held_by": {}} for n in ports}
        for i in range(a.trials):
            local.broker.stop(signal.SIGTERM, timeout=120)
            for n, port in ports.items():
                h.wait_for(lambda: h.http_get(f"http://{local.ip}:{port}/readyz")[0] == 503, 60,
                           f"{n}'s /readyz 503")
            t0 = time.monotonic()
            for pl in pollers.values():
                pl.arm(t0)
            local.start_broker()
            isr = None

            def done():
                return all(pl.result()[1] is not None for pl in pollers.values())
            h.wait_for(done, 180, "both agents' /readyz 200")
            isr = watcher.first(lambda s: all(nid in isr_ for _, reps, isr_ in s.values() if nid in reps), after=t0)
            if isr is None:
                raise RuntimeError("the watcher never saw the broker back in every ISR")
            line = []
            for n, pl in pollers.items():
                fg, ok = pl.result()
                res[n]["lat"].append(ok - isr)
                res[n]["wait"].append(fg - isr)
                res[n]["confirm"].append(ok - fg)
                d = duration_ms(h, local, ports[n])
                if d is not None:
                    res[n]["dur"].append(d / 1000.0)
                lc = pl.longest_check()
                if lc is not None:
                    res[n]["longest"].append(lc)
                held = pl.failing_after(isr)
                for name in held:
                    res[n]["held_by"][name] = res[n]["held_by"].get(name, 0) + 1
                line.append(f"{n} {ok - isr:.3f} s, longest answered check {lc if lc is not None else '?'} s" + (f" (held after the ISR by: {', '.join(held)})" if held else ""))
            print(f"[real-readiness] trial {i + 1}: ISR complete -> /readyz 200: " + ", ".join(line),
                  file=sys.stderr, flush=True)
        for pl in pollers.values():
            pl.stopped.set()
        watcher.stop()
    finally:
        env.close()

    base = a.baseline_name
    load = os.getloadavg()
    print(f"### 6. The gate's own overhead on real brokers: local broker back in every ISR → /readyz 200, "
          f"manifest flags\n")
    print(f"Kafka {h.kafka_version()}, 3 combined-mode nodes from `k8s/base`, {PARTITIONS} partitions "
          f"RF 3, no load; {a.trials} restarts of kafka-0's broker, both agents in its pod "
          f"(`bench/real_readiness.py`); load average at the end {load[0]:.1f}.\n")
    print("| figure | kpa | baseline | ratio | target | result |")
    print("| --- | --: | --: | --: | --- | --- |")
    for label, p, target in (("p50", 50, 1.0), ("p99", 99, 2.0)):
        x, y = pct(res["kpa"]["lat"], p), pct(res[base]["lat"], p)
        print(f"| back in every ISR → /readyz 200, {label} | {x:.2f} s | {y:.2f} s ({base}) | "
              f"{x / y if y else 0:.2f}× | ≤ {target:.0f} s | {'PASS' if x <= target else '**MISS**'} |")
    for key, label in (("wait", "ISR complete → first good check, median"),
                       ("confirm", "first good check → /readyz 200, median"),
                       ("dur", "check duration once ready, median"),
                       ("longest", "longest answered check from the restart to the 200, median")):
        x, y = statistics.median(res["kpa"][key]), statistics.median(res[base][key])
        print(f"| {label} | {x:.2f} s | {y:.2f} s ({base}) | {x / y if y else 0:.2f}× | — | — |")
    print(f"| checks of a ready broker (steady load) | {steady['kpa']} in {STEADY_S} s | "
          f"{steady[base]} in {STEADY_S} s | "
          f"{steady['kpa'] / steady[base] if steady[base] else 0:.2f}× | no more than the baseline | "
          f"{'PASS' if steady['kpa'] <= steady[base] + 1 else '**MISS**'} |")
    held = {n: ", ".join(f"{k} {v}" for k, v in sorted(res[n]["held_by"].items())) or "none" for n in ports}
    print(f"| trials whose last 503 after the ISR completed named (check: trials) | {held['kpa']} | "
          f"{held[base]} | — | — | — |")
    print()
    print("Per trial (s), kpa / baseline: " + ", ".join(
        f"{x:.2f}/{y:.2f}" for x, y in zip(res["kpa"]["lat"], res[base]["lat"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
