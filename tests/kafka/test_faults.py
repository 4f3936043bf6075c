"""Real Kafka: faults during a gated rolling update. Peer: Apache Kafka (KPA_KAFKA_VERSION)
booted from k8s/base (3 combined nodes) and, for the controllers-first roll, topology (b): a
controller StatefulSet of 3 and a broker StatefulSet of 3. The agents run with the manifest's
args. Ground truth is a metadata watcher (Kafka's Java AdminClient, every 100 ms) through a
broker that is neither faulted nor rolled, and for the quorum a DescribeQuorum watcher asking
the controllers directly (every 200 ms).

Each broker fault hits broker X while broker Y is the one being rolled (its preStop is
pending): with RF 3 and min.insync.replicas 2, stopping Y while X is out of the ISR would
leave one in-sync replica. The gate must hold exactly while X is out of the ISR and release
once the real ISR includes X again, whatever took X out:
  SIGKILL   X crashes; the kubelet starts the container again from the same volume;
  SIGSTOP   X's JVM is frozen for 15 s (a long GC pause), then resumed;
  link cut  X's network link is down for 20 s, then restored.
"""
import signal
import time
import unittest

import faults
import harness as h

# The watcher polls every 100 ms and the agent reads another broker's metadata: this much
# skew is allowed between "the watcher saw it" and "the agent saw it".
SKEW = 1.0
PAUSE_S = 15
CUT_S = 20


def hosted(state, node, topics):
    return [k for k, ev in state.items() if k[0] in topics and node in ev["replicas"]]


def in_isr_everywhere(node, topics):
    def pred(state):
        keys = hosted(state, node, topics)
        return keys and all(node in state[k]["isr"] for k in keys)
    return pred


def out_of_isr_everywhere(node, topics):
    def pred(state):
        keys = hosted(state, node, topics)
        return keys and all(node not in state[k]["isr"] for k in keys)
    return pred


class BrokerFaultsUnderAGatedStop(unittest.TestCase):
    TOPIC = "faults"

    @classmethod
    def setUpClass(cls):
        cls.env = h.Env()
        try:
            cls.pods = [cls.env.pod("kafka", i) for i in range(3)]
            cls.env.start(cls.pods)
            for p in cls.pods:
                p.wait_ready(timeout=180)
            # Rollout order is highest ordinal first: kafka-2 is being rolled (its preStop is
            # pending), kafka-1 is hit by the fault, the watcher reads through kafka-0.
            cls.rolled, cls.faulted, cls.via = cls.pods[2], cls.pods[1], cls.pods[0]
            cls.boot = f"{cls.via.fqdn}:9092"
            cls.env.probe("create-topic", "--bootstrap", cls.boot, "--topic", cls.TOPIC,
                          "--partitions", "6", "--replication-factor", "3")
        except BaseException:
            cls.env.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def setUp(self):
        # A fault a failed test left is undone by its own block; a broker it left dead is
        # started again, and every agent is ready before the next fault.
        for p in self.pods:
            if not p.broker.alive():
                faults.restart(p)
        for p in self.pods:
            p.wait_ready(timeout=180)
        self.watcher = self.env.watcher(self.boot, [self.TOPIC])
        self.addCleanup(self.watcher.stop)
        self.watcher.wait(in_isr_everywhere(self.faulted.node_id, [self.TOPIC]), 120, "the full ISR")

    def hold_then_release(self, fault_name, recover):
        """With the fault applied: waits for X out of the ISR, asks Y's /prestop, asserts it is
        held while X is out, calls recover(), and asserts /prestop released once X is back in
        the ISR. Returns the figures."""
        x, topics = self.faulted.node_id, [self.TOPIC]
        t_out = self.watcher.wait(out_of_isr_everywhere(x, topics), 60, f"node {x} out of every ISR")
        t, result = self.rolled.prestop_async()
        asked = time.monotonic()
        recovered = recover()
        # Held through the whole time X was out: not answered before the fault ended ...
        self.assertTrue(t.is_alive() or result["at"] > recovered,
                        f"/prestop answered while node {x} is out of the ISR: {result}")
        t_in = self.watcher.wait(in_isr_everywhere(x, topics), 180, f"node {x} back in every ISR")
        t.join(timeout=120)
        self.assertFalse(t.is_alive(), f"/prestop still held after node {x} rejoined the ISR")
        self.assertEqual(result["code"], 200)
        self.assertTrue(result["body"].startswith("safe to stop"), result["body"])
        self.assertGreaterEqual(result["at"], t_in - SKEW, "/prestop released before the ISR was complete")
        self.assertLess(result["at"] - t_in, 30, "/prestop released long after the ISR was complete")
        figures = dict(fault=fault_name, fenced_s=round(t_out - self.fault_at, 1),
                       held_s=round(result["at"] - asked, 1), out_of_isr_s=round(t_in - t_out, 1),
                       recovered_to_isr_s=round(t_in - recovered, 1),
                       isr_to_release_s=round(result["at"] - t_in, 2))
        h.figure("fault_gate", **figures)
        return figures

    def test_sigkill_of_another_broker_holds_the_stop_until_it_is_back_in_the_isr(self):
        self.fault_at = time.monotonic()
        self.assertEqual(faults.kill(self.faulted), -signal.SIGKILL)

        def recover():
            faults.restart(self.faulted)
            return time.monotonic()
        self.hold_then_release("sigkill", recover)

    def test_sigstop_of_another_broker_holds_the_stop_until_it_is_back_in_the_isr(self):
        fault = faults.Timed(faults.paused, self.faulted, PAUSE_S)
        self.addCleanup(fault.end)
        self.fault_at = fault.started
        f = self.hold_then_release("sigstop", lambda: fault.wait())
        # Fenced within the pause (broker.session.timeout.ms, 9 s): the ISR shrink came from
        # KRaft fencing, not from the follower lagging (replica.lag.time.max.ms, 30 s).
        self.assertLess(f["fenced_s"], PAUSE_S)

    def test_cut_link_of_another_broker_holds_the_stop_until_it_is_back_in_the_isr(self):
        fault = faults.Timed(faults.link_cut, self.faulted, CUT_S)
        self.addCleanup(fault.end)
        self.fault_at = fault.started
        # The kubelet's probes cannot reach the cut pod either.
        code, _ = self.faulted.get(self.faulted.path("readiness"), timeout=2)
        self.assertEqual(code, 0)
        f = self.hold_then_release("link_cut", lambda: fault.wait())
        self.assertLess(f["fenced_s"], CUT_S)


if __name__ == "__main__":
    unittest.main()
