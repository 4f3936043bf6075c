"""Real Kafka: kpa-agent's verdicts on real replication. Peer: a 3-node combined-mode Apache
Kafka cluster (KPA_KAFKA_VERSION) booted from k8s/base; the agents run with the manifest's
args (5 s interval, 2 good checks) unless a test says otherwise. Ground truth is a metadata
watcher (Kafka's Java AdminClient, every 100 ms) through a broker that is not being stopped.
"""
import os
import re
import signal
import threading
import time
import unittest

import harness as h

# The watcher polls every 100 ms and the agent reads the metadata of another broker: allow
# this much skew between "the watcher saw it" and "the agent saw it".
SKEW = 1.0


def hosted(state, node, topics):
    return [k for k, ev in state.items() if k[0] in topics and node in ev["replicas"]]


def in_isr_everywhere(node, topics):
    def pred(state):
        keys = hosted(state, node, topics)
        return keys and all(node in state[k]["isr"] for k in keys)
    return pred


def out_of_isr_somewhere(node, topics):
    def pred(state):
        return any(node not in state[k]["isr"] for k in hosted(state, node, topics))
    return pred


class RealVerdicts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = h.Env()
        try:
            cls.pods = [cls.env.pod("kafka", i) for i in range(3)]
            t0 = time.monotonic()
            cls.env.start(cls.pods)
            for p in cls.pods:
                p.wait_ready(timeout=180)
            h.figure("verdicts_cluster_ready", ready_s=round(time.monotonic() - t0, 1))
        except BaseException:
            cls.env.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def boot(self, pod):
        return f"{pod.fqdn}:9092"

    def create(self, topic, partitions=6, **configs):
        self.env.probe("create-topic", "--bootstrap", self.boot(self.pods[0]), "--topic", topic,
                       "--partitions", str(partitions), "--replication-factor", "3",
                       *[f"{k.replace('_', '.')}={v}" for k, v in configs.items()])
        self.addCleanup(self.env.probe, "delete-topic", "--bootstrap", self.boot(self.pods[0]), topic)

    def restart_broker(self, pod):
        pod.start_broker()
        pod.wait_broker_up(timeout=180)

    def ensure_all_ready(self):
        for p in self.pods:
            if p.broker is None or not p.broker.alive():
                self.restart_broker(p)
        for p in self.pods:
            p.wait_ready(timeout=180)

    def setUp(self):
        self.ensure_all_ready()

    def test_fresh_cluster_every_agent_ready(self):
        for p in self.pods:
            code, body = p.get(p.path("readiness") + "?verbose")
            self.assertEqual(code, 200, f"{p.name}: {body}")
            self.assertIn("[+]caught_up ok", body)

    def test_restarted_broker_is_not_ready_until_the_real_isr_includes_it(self):
        topics = ["catchup"]
        lagger, watch_via = self.pods[2], self.pods[0]
        self.create("catchup", partitions=6)
        # A follower throttle on the restarted broker makes its catch-up last seconds (Kafka
        # throttles only replicas that are out of the ISR, so it joins as soon as caught up).
        boot = self.boot(watch_via)
        self.env.probe("alter", "--bootstrap", boot, "--broker", str(lagger.node_id),
                       "follower.replication.throttled.rate=2000000")
        self.env.probe("alter", "--bootstrap", boot, "--topic", "catchup",
                       "follower.replication.throttled.replicas=*")
        self.addCleanup(self.env.probe, "alter", "--bootstrap", boot, "--broker",
                        str(lagger.node_id), "follower.replication.throttled.rate=")
        watcher = self.env.watcher(boot, topics)
        self.addCleanup(watcher.stop)
        watcher.wait(in_isr_everywhere(lagger.node_id, topics), 60, "the initial ISR")

        self.assertEqual(lagger.broker.stop(signal.SIGTERM, timeout=120), 143)
        watcher.wait(out_of_isr_somewhere(lagger.node_id, topics), 60, "the stopped broker leaving the ISR")
        # The agent has noticed (its checks run every 5 s): a 200 after the restart is then new.
        h.wait_for(lambda: lagger.get(lagger.path("readiness"))[0] == 503, 60, f"{lagger.name} /readyz 503 after the stop")
        out = self.env.probe("produce", "--bootstrap", boot, "--topic", "catchup",
                             "--count", "24000", "--size", "1000", timeout=300)
        self.assertEqual(out, {"acked": 24000, "errors": {}})

        poller = h.Poller(lagger, lagger.path("readiness") + "?verbose", interval=0.1)
        self.addCleanup(poller.stop)
        restarted = time.monotonic()
        self.restart_broker(lagger)
        t_isr = watcher.wait(in_isr_everywhere(lagger.node_id, topics), 180,
                             f"node {lagger.node_id} back in the ISR of every partition")
        ready = poller.wait(lambda c, b: c == 200, 120, f"{lagger.name} /readyz 200", after=restarted)
        lagging = poller.first(lambda c, b: c == 503 and re.search(
            r"\[-\]caught_up failed: .*catchup-\d+ \(leader \d+, isr \[", b) is not None, after=restarted)
        self.assertIsNotNone(lagging, "no 503 named a lagging catchup partition after the restart")
        self.assertLess(lagging[0], t_isr, "a lagging partition was named after the ISR was complete")
        self.assertGreaterEqual(ready[0], t_isr - SKEW, "ready before the real ISR included the broker")
        # Between the restart and the ISR being complete, /readyz never said 200.
        early = poller.first(lambda c, b: c == 200, after=restarted)
        self.assertGreaterEqual(early[0], t_isr - SKEW)
        h.figure("isr_complete_to_readyz_200", seconds=round(ready[0] - t_isr, 2),
                 catch_up_s=round(t_isr - restarted, 1), interval="5s", ready_after=2)
        # The manifest's flags check every --fast-interval (250ms) while not ready: the first
        # check after the ISR completes and one more. Checking only every --interval (5s), this
        # took 6.5-9.6 s; with it, 0.3-0.4 s in CI. The bound is generous (a loaded machine
        # under ASan) yet below one --interval, so a check that waited an interval still
        # fails it. The target, <= 1 s p50, is bench/'s sections 4 and 6.
        self.assertLess(ready[0] - t_isr, 5.0, "/readyz 200 came an interval late after the ISR completed")

    def gate_case(self, topics, expect_hold):
        """Stops broker 1; asks broker 0's /prestop; restarts broker 1. Returns facts."""
        stopped, asked, watch_via = self.pods[1], self.pods[0], self.pods[2]
        watcher = self.env.watcher(self.boot(watch_via), topics)
        self.addCleanup(watcher.stop)
        watcher.wait(in_isr_everywhere(stopped.node_id, topics), 60, "the initial ISR")
        self.assertEqual(stopped.broker.stop(signal.SIGTERM, timeout=120), 143)
        watcher.wait(out_of_isr_somewhere(stopped.node_id, topics), 60, "broker 1 leaving the ISR")
        t, result = asked.prestop_async()
        if not expect_hold:
            t.join(timeout=60)
            self.assertFalse(t.is_alive(), "/prestop held although the stop is safe")
            return result, None
        # Held: still unanswered well past a few check intervals.
        t.join(timeout=12)
        self.assertTrue(t.is_alive(), f"/prestop answered while unsafe: {result}")
        restarted = time.monotonic()
        self.restart_broker(stopped)
        t_isr = watcher.wait(in_isr_everywhere(stopped.node_id, topics), 180, "broker 1 back in the ISR")
        t.join(timeout=120)
        self.assertFalse(t.is_alive(), "/prestop still held after the ISR recovered")
        h.figure("prestop_release_after_isr_complete", seconds=round(result["at"] - t_isr, 2),
                 held_s=round(result["at"] - restarted, 1))
        return result, t_isr

    def test_prestop_holds_on_the_cluster_wide_min_isr_then_releases(self):
        # k8s/base's template sets min.insync.replicas=2 for the whole cluster.
        self.create("gate-cluster", partitions=3)
        result, t_isr = self.gate_case(["gate-cluster"], expect_hold=True)
        self.assertEqual(result["code"], 200)
        self.assertTrue(result["body"].startswith("safe to stop"), result["body"])
        self.assertGreaterEqual(result["at"], t_isr - SKEW)

    def test_prestop_follows_a_topic_override(self):
        # min.insync.replicas=1 on the topic: with broker 1 down, stopping broker 0 still
        # leaves one in-sync replica, so the gate releases although the cluster value is 2.
        self.create("gate-loose", partitions=3, min_insync_replicas=1)
        result, _ = self.gate_case(["gate-loose"], expect_hold=False)
        self.assertEqual(result["code"], 200)
        self.assertTrue(result["body"].startswith("safe to stop"), result["body"])

    def restart_agent(self, pod, overrides):
        pod.agent.stop(signal.SIGTERM, timeout=30)
        pod.start_agent(overrides)
        wait = h.wait_for(lambda: pod.get(pod.path("liveness"))[0] == 200, 60, f"{pod.name} /livez 200")
        self.addCleanup(self.restore_agent, pod)
        return wait

    def restore_agent(self, pod):
        pod.agent.stop(signal.SIGTERM, timeout=30)
        pod.start_agent()

    # -- the broker container's own probes (k8s/base/config/kpa-probe.sh), run by the kubelet --

    def kubelet(self, pod):
        """A Kubelet for pod (already started) that records each result of the kafka
        container's startup and liveness probes: kl.results[kind] = [(time, ok)]."""
        kl = h.Kubelet(pod).adopt()
        self.addCleanup(kl.close)
        kl.results = {"startup": [], "liveness": []}
        probe_once = kl._probe_once

        def recorded(c, spec, timeout):
            ok = probe_once(c, spec, timeout)
            for kind in kl.results:
                if c.name == "kafka" and spec is c.spec.get(f"{kind}Probe"):
                    kl.results[kind].append((time.monotonic(), ok))
            return ok
        kl._probe_once = recorded
        return kl

    # What the kubelet did to the kafka container (its readiness aside).
    LIFE = ("exit", "running", "started", "probe-failed", "killing", "sigterm", "sigkill")

    @classmethod
    def kafka_events(cls, kl, after, what=None):
        with kl.cond:
            return [e for e in kl.events if e[0] >= after and e[1] == "kafka"
                    and e[2] in (what or cls.LIFE)]

    @staticmethod
    def crash_and_hold(kl, name):
        """SIGKILL to a container that the kubelet then does not start again for a while (a
        crash loop in back-off); Kubelet.start_container(name) ends it."""
        with kl.cond:
            c = kl.containers[name]
            c.stopping = True
            proc = c.proc
        proc.send(signal.SIGKILL)
        proc.p.wait(timeout=30)
        return time.monotonic()

    def test_broker_liveness_survives_its_agent_being_down(self):
        pod = self.pods[2]
        kl = self.kubelet(pod)
        h.wait_for(lambda: any(ok for _, ok in kl.results["startup"]), 60, "the startupProbe to pass")
        broker_pid = pod.broker.pid
        killed = self.crash_and_hold(kl, "kpa-agent")
        # What an httpGet probe to kpa-agent saw from here on: nothing (three such failures,
        # 30 s with the manifest's timing, and the kubelet restarted a healthy broker).
        self.assertEqual(pod.get("/livez", timeout=2)[0], 0)
        code, out = pod.probe_exec("liveness")
        self.assertEqual(code, 0, out)
        self.assertIn("kpa-agent at 127.0.0.1:8080 did not answer within 2s", out)
        # Four liveness probes (40 s at the manifest's period), more than its failureThreshold.
        after = lambda: [ok for t, ok in kl.results["liveness"] if t > killed]
        h.wait_for(lambda: len(after()) >= 4, 90, "four liveness probes while kpa-agent is down",
                   interval=0.5)
        self.assertEqual(after(), [True] * len(after()))
        self.assertEqual(self.kafka_events(kl, killed), [])
        self.assertTrue(pod.broker.alive())
        self.assertEqual(pod.broker.pid, broker_pid)
        # The agent back: the same broker, live and ready.
        kl.start_container("kpa-agent")
        h.wait_for(lambda: pod.get("/livez")[0] == 200, 60, f"{pod.name} /livez 200 again")
        pod.wait_ready(60)
        self.assertEqual(pod.broker.pid, broker_pid)
        self.assertEqual(self.kafka_events(kl, killed), [])

    # Seconds kpa-agent stays down while the kubelet stops the broker: the hook must hold the
    # stop all along (an httpGet hook failed at once, and the kubelet sent SIGTERM at once).
    AGENT_DOWN_S = 10

    def test_broker_stop_waits_for_its_agent_to_come_back(self):
        self.create("gate-agent-down", partitions=3)
        pod = self.pods[2]
        kl = self.kubelet(pod)
        h.wait_for(lambda: any(ok for _, ok in kl.results["startup"]), 60, "the startupProbe to pass")
        broker_pid = pod.broker.pid
        self.crash_and_hold(kl, "kpa-agent")
        # What an httpGet preStop hook got from here on: nothing, at once.
        self.assertEqual(pod.get("/prestop", timeout=2)[0], 0)
        stop = {}
        stopping = time.monotonic()
        stopper = threading.Thread(target=lambda: stop.update(kl.stop_container("kafka", "rolling update")),
                                   daemon=True)
        stopper.start()
        # Held while kpa-agent is down: the hook has not returned, no SIGTERM, the same broker.
        stopper.join(self.AGENT_DOWN_S)
        self.assertTrue(stopper.is_alive(), stop)
        kinds = ("killing", "prestop-done", "sigterm", "sigkill", "exited")
        self.assertEqual([e[2] for e in self.kafka_events(kl, stopping, kinds)], ["killing"])
        self.assertTrue(pod.broker.alive())
        self.assertEqual(pod.broker.pid, broker_pid)
        # kpa-agent back (the kubelet restarts the sidecar): the hook reaches /prestop and the
        # stop goes through the gate.
        back = time.monotonic()
        kl.start_container("kpa-agent")
        stopper.join(150)
        self.assertFalse(stopper.is_alive(), "the kafka container's stop did not end")
        self.assertEqual(stop["prestop"][0], 0, stop)
        self.assertRegex(stop["prestop"][1], r"^safe to stop: ")
        self.assertEqual((stop["exit_code"], stop["killed"]), (143, False), stop)
        events = self.kafka_events(kl, stopping, kinds)
        self.assertEqual([e[2] for e in events], ["killing", "prestop-done", "sigterm", "exited"])
        self.assertGreater(events[1][0], back)
        h.figure("prestop_waits_for_its_agent", held_s=round(events[1][0] - stopping, 1),
                 agent_down_s=round(back - stopping, 1), released_after_agent_start_s=round(events[1][0] - back, 2),
                 sigterm_to_exit_s=round(events[3][0] - events[2][0], 1))

    def test_broker_stop_outlasts_a_restart_of_its_agent_mid_hold(self):
        # kpa-agent answers the /prestop it holds with 503 "shutting down" on SIGTERM (the
        # kubelet restarting the sidecar): no verdict, so the hook asks the next kpa-agent,
        # which holds it until the stop is safe.
        topics = ["gate-agent-restart"]
        self.create(topics[0], partitions=3)
        pod, other, watch_via = self.pods[2], self.pods[1], self.pods[0]
        watcher = self.env.watcher(self.boot(watch_via), topics)
        self.addCleanup(watcher.stop)
        watcher.wait(in_isr_everywhere(other.node_id, topics), 60, "the initial ISR")
        kl = self.kubelet(pod)
        h.wait_for(lambda: any(ok for _, ok in kl.results["startup"]), 60, "the startupProbe to pass")
        broker_pid = pod.broker.pid
        # Unsafe to stop kafka-2: with kafka-1 down every partition is at min.insync.replicas.
        self.assertEqual(other.broker.stop(signal.SIGTERM, timeout=120), 143)
        watcher.wait(out_of_isr_somewhere(other.node_id, topics), 60, "kafka-1 leaving the ISR")
        stop = {}
        stopping = time.monotonic()
        stopper = threading.Thread(target=lambda: stop.update(kl.stop_container("kafka", "rolling update")),
                                   daemon=True)
        stopper.start()
        held = lambda: (lambda g: g if g and not g["safe"] else None)(
            ((pod.status() or {}).get("safe_to_stop") or {}).get("gate"))
        h.wait_for(held, 60, "kpa-agent to hold the hook's /prestop")
        sidecar = kl.stop_container("kpa-agent", "sidecar restarted")
        self.assertEqual(sidecar["exit_code"], 0, sidecar)
        restarted = time.monotonic()
        kl.start_container("kpa-agent")
        g = h.wait_for(held, 60, "the new kpa-agent to hold the hook's /prestop again")
        self.assertRegex(g["reason"], r"stopping would leave 3 partitions below min\.insync\.replicas")
        kinds = ("killing", "prestop-done", "sigterm", "sigkill", "exited")
        self.assertTrue(stopper.is_alive(), stop)
        self.assertEqual([e[2] for e in self.kafka_events(kl, stopping, kinds)], ["killing"])
        self.assertEqual(pod.broker.pid, broker_pid)
        self.restart_broker(other)
        t_isr = watcher.wait(in_isr_everywhere(other.node_id, topics), 180, "kafka-1 back in the ISR")
        stopper.join(150)
        self.assertFalse(stopper.is_alive(), "the kafka container's stop did not end")
        self.assertEqual(stop["prestop"][0], 0, stop)
        self.assertRegex(stop["prestop"][1], r"^safe to stop: ")
        self.assertEqual((stop["exit_code"], stop["killed"]), (143, False), stop)
        events = self.kafka_events(kl, stopping, kinds)
        self.assertEqual([e[2] for e in events], ["killing", "prestop-done", "sigterm", "exited"])
        self.assertGreaterEqual(events[1][0], t_isr - SKEW, "released before kafka-1 was back in the ISR")
        h.figure("prestop_outlasts_an_agent_restart", held_s=round(events[1][0] - stopping, 1),
                 agent_restarted_after_s=round(restarted - stopping, 1),
                 released_after_isr_s=round(events[1][0] - t_isr, 2))

    def test_broker_restarted_after_a_crash_is_starting_until_it_answers(self):
        pod = self.pods[2]
        # A short liveness window, so that the hole shows within the test: the new process is
        # held (SIGSTOP, as a long log recovery holds it) for longer than the window plus the
        # liveness probe's three failures; the manifest's 60s window only makes that longer.
        self.restart_agent(pod, {"--liveness-window": "8s"})
        pod.wait_ready(60)
        kl = self.kubelet(pod)
        h.wait_for(lambda: any(ok for _, ok in kl.results["startup"]), 60, "the startupProbe to pass")
        held = {}

        def hold_new_process():
            with kl.cond:
                while not self.kafka_events(kl, crashed, ("running",)):
                    kl.cond.wait(0.1)
                held["pid"] = self.kafka_events(kl, crashed, ("running",))[0][3]
            # Held once its command has written the id file (a log recovery comes later).
            id_file = os.path.join(pod.volumes["tmp"], "kpa-broker.id")
            def written():
                with open(id_file) as f:
                    return f.read().split()[0] == str(held["pid"])
            h.wait_for(written, 30, "the new broker process's id file", interval=0.01)
            os.killpg(held["pid"], signal.SIGSTOP)
            held["at"] = time.monotonic()
        crashed = time.monotonic()
        holder = threading.Thread(target=hold_new_process, daemon=True)
        holder.start()
        pod.broker.send(signal.SIGKILL)
        # The hole: /livez of the old process still says live (an httpGet startupProbe on it
        # would pass at once, and the livenessProbe would then kill the recovering process).
        self.assertEqual(pod.get("/livez")[0], 200)
        holder.join(timeout=60)
        self.assertIn("at", held, "the kubelet did not start the broker again")
        self.addCleanup(lambda: os.killpg(held["pid"], signal.SIGCONT) if pod.broker.alive() else None)
        code, out = pod.probe_exec("startup")
        self.assertEqual(code, 1, out)
        self.assertRegex(out, r"starting: kpa-agent answered 503: \[-\]broker failed: starting: this "
                              r"broker process started [0-9.]+m?s ago and has not answered since")
        # Held past the window plus three liveness periods: 8 failed startup probes (40 s).
        failed = lambda: [ok for t, ok in kl.results["startup"] if t > held["at"]]
        h.wait_for(lambda: len(failed()) >= 8, 120, "eight startup probes while the broker is held",
                   interval=0.5)
        self.assertEqual(failed(), [False] * len(failed()))
        self.assertEqual([e[2] for e in self.kafka_events(kl, crashed)], ["exit", "running"])
        os.killpg(held["pid"], signal.SIGCONT)
        resumed = time.monotonic()
        with kl.cond:
            while not self.kafka_events(kl, resumed, ("started",)):
                self.assertLess(time.monotonic() - resumed, 180, "the startupProbe did not pass")
                kl.cond.wait(0.5)
        # Then liveness: it passes, and nothing restarted the process that was held.
        h.wait_for(lambda: len([ok for t, ok in kl.results["liveness"] if t > resumed]) >= 2, 60,
                   "two liveness probes after the start", interval=0.5)
        self.assertTrue(all(ok for t, ok in kl.results["liveness"] if t > resumed))
        self.assertEqual([e[2] for e in self.kafka_events(kl, crashed)], ["exit", "running", "started"])
        self.assertEqual(pod.broker.pid, held["pid"])
        kl.wait_ready(120, after=resumed)

    def test_killed_broker_readyz_fails_then_livez_after_the_window(self):
        pod = self.pods[2]
        self.restart_agent(pod, {"--interval": "1s", "--liveness-window": "8s"})
        pod.wait_ready(60)
        live = h.Poller(pod, pod.path("liveness"), interval=0.1)
        ready = h.Poller(pod, pod.path("readiness"), interval=0.1)
        self.addCleanup(live.stop)
        self.addCleanup(ready.stop)
        killed = time.monotonic()
        pod.broker.stop(signal.SIGKILL, timeout=30)
        r503 = ready.wait(lambda c, b: c == 503, 20, "/readyz 503", after=killed)
        l503 = live.wait(lambda c, b: c == 503, 40, "/livez 503", after=killed)
        self.assertLess(r503[0] - killed, 8, "/readyz took longer than a few checks")
        # /livez keeps answering 200 inside the liveness window: the broker's last answer was
        # at most one interval before the kill.
        self.assertGreater(l503[0] - killed, 8 - 1 - SKEW)
        self.restart_broker(pod)
        live.wait(lambda c, b: c == 200, 120, "/livez 200 again", after=l503[0])
        ready.wait(lambda c, b: c == 200, 120, "/readyz 200 again", after=l503[0])

    def test_paused_broker_fails_probes_and_recovers_when_resumed(self):
        pod = self.pods[2]
        self.restart_agent(pod, {"--interval": "1s", "--liveness-window": "8s"})
        pod.wait_ready(60)
        live = h.Poller(pod, pod.path("liveness"), interval=0.1)
        ready = h.Poller(pod, pod.path("readiness"), interval=0.1)
        self.addCleanup(live.stop)
        self.addCleanup(ready.stop)
        paused = time.monotonic()
        pod.broker.send(signal.SIGSTOP)
        try:
            r503 = ready.wait(lambda c, b: c == 503, 30, "/readyz 503 while paused", after=paused)
            l503 = live.wait(lambda c, b: c == 503, 40, "/livez 503 while paused", after=paused)
            self.assertLess(r503[0], l503[0])
        finally:
            pod.broker.send(signal.SIGCONT)
        resumed = time.monotonic()
        live.wait(lambda c, b: c == 200, 120, "/livez 200 after SIGCONT", after=resumed)
        ready.wait(lambda c, b: c == 200, 180, "/readyz 200 after SIGCONT", after=resumed)


if __name__ == "__main__":
    unittest.main()
