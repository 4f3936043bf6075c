"""k8s/base/config/kpa-probe.sh, the kafka container's startup and liveness probe and its
preStop hook, against stand-ins for kpa-agent (an HTTP server of this test that answers what
each test sets and records what it was asked; for the hook, a listener that comes up late,
holds its answer, or goes away mid-answer). Peer: none; kpa-agent's side of
/livez?process-age-ms and /prestop is check_agent's and the whole is test_verdicts' (real
Kafka, the kubelet emulated)."""
import http.server
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "k8s", "base", "config", "kpa-probe.sh")


class Agent(http.server.BaseHTTPRequestHandler):
    answer = (200, "ok")
    paths = []

    def do_GET(self):
        Agent.paths.append(self.path)
        code, body = Agent.answer
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


def start_time(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[19]


class KpaProbe(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Agent)
        cls.addr = f"127.0.0.1:{cls.server.server_address[1]}"
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        # A port where nothing listens, and one that accepts and never answers.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        cls.closed = f"127.0.0.1:{s.getsockname()[1]}"
        s.close()
        cls.silent_sock = socket.socket()
        cls.silent_sock.bind(("127.0.0.1", 0))
        cls.silent_sock.listen(8)
        cls.silent = f"127.0.0.1:{cls.silent_sock.getsockname()[1]}"

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.silent_sock.close()

    def setUp(self):
        Agent.paths = []
        Agent.answer = (200, "ok")
        self.dir = tempfile.mkdtemp(prefix="kpa-probe-")
        # The "broker process": a child started now, named in the id file as the container's
        # command names itself (pid and start time).
        self.broker = subprocess.Popen(["sleep", "60"])
        self.started = time.monotonic()
        self.addCleanup(self.broker.wait)
        self.addCleanup(self.broker.kill)
        self.id_file = os.path.join(self.dir, "kpa-broker.id")
        with open(self.id_file, "w") as f:
            f.write(f"{self.broker.pid} {start_time(self.broker.pid)}\n")

    def probe(self, mode, addr=None, id_file=None):
        t = time.monotonic()
        r = subprocess.run(["bash", SCRIPT, mode, addr or self.addr, id_file or self.id_file],
                           capture_output=True, text=True, timeout=20)
        return r.returncode, r.stdout + r.stderr, time.monotonic() - t

    def test_startup_asks_with_the_process_age_and_passes_on_200(self):
        code, out, _ = self.probe("startup")
        self.assertEqual((code, out), (0, "started: the broker process answered kpa-agent\n"))
        self.assertEqual(len(Agent.paths), 1)
        m = re.fullmatch(r"/livez\?process-age-ms=(\d+)", Agent.paths[0])
        self.assertIsNotNone(m, Agent.paths[0])
        # Clock ticks of 10 ms, and the probe ran after the child started.
        self.assertLessEqual(int(m.group(1)), (time.monotonic() - self.started) * 1000 + 20)

    def test_startup_fails_on_503_and_shows_why(self):
        Agent.answer = (503, "[-]broker failed: starting: this broker process started 3s ago\nlivez check failed\n")
        code, out, _ = self.probe("startup")
        self.assertEqual(code, 1)
        self.assertEqual(out, "starting: kpa-agent answered 503: [-]broker failed: starting: this "
                              "broker process started 3s ago\nlivez check failed\n")

    def test_startup_fails_while_the_agent_is_down(self):
        code, out, _ = self.probe("startup", addr=self.closed)
        self.assertEqual((code, out), (1, f"starting: kpa-agent at {self.closed} did not answer within 2s\n"))

    def test_startup_fails_without_asking_when_the_id_file_is_an_earlier_process(self):
        # The file a container before this one left in /tmp: its process is gone, or the pid
        # is in use by another process (PID 1 again in a new container).
        gone = subprocess.Popen(["true"])
        gone.wait()
        for content in (f"{gone.pid} 12345", f"{self.broker.pid} 1", "garbage", ""):
            with open(self.id_file, "w") as f:
                f.write(content + "\n")
            code, out, _ = self.probe("startup")
            self.assertEqual(code, 1, content)
            self.assertEqual(out, f"starting: this container's broker process is not known yet "
                                  f"({self.id_file} names no live process that wrote it)\n")
        code, out, _ = self.probe("startup", id_file=os.path.join(self.dir, "missing"))
        self.assertEqual(code, 1)
        self.assertEqual(Agent.paths, [])

    def test_liveness_fails_only_on_503(self):
        Agent.answer = (503, "[-]broker failed: broker has not answered for 61s (window 1m)\n")
        code, out, _ = self.probe("liveness")
        self.assertEqual((code, out), (1, "not live: kpa-agent answered 503: [-]broker failed: broker "
                                          "has not answered for 61s (window 1m)\n"))
        Agent.answer = (200, "ok")
        self.assertEqual(self.probe("liveness")[:2], (0, "live\n"))
        self.assertRegex(Agent.paths[-1], r"^/livez\?process-age-ms=\d+$")

    def test_liveness_passes_when_the_agent_is_down_or_hangs(self):
        code, out, _ = self.probe("liveness", addr=self.closed)
        self.assertEqual(code, 0)
        self.assertEqual(out, f"live as far as known: kpa-agent at {self.closed} did not answer within "
                              "2s; its own probes restart it, and the broker is not restarted for that\n")
        code, out, took = self.probe("liveness", addr=self.silent)
        self.assertEqual(code, 0)
        self.assertIn(f"kpa-agent at {self.silent} did not answer within 2s", out)
        # Bounded by its own wait, well under the probes' timeoutSeconds (5).
        self.assertLess(took, 4.5)
        Agent.answer = (500, "answer too large\n")
        code, out, _ = self.probe("liveness")
        self.assertEqual(code, 0)
        self.assertIn("did not answer with 200 or 503 (got 500)", out)

    def drip(self, status_line):
        """An agent that sends status_line at once, then a header line every 0.5 s for 10 s:
        each line comes well within a read's wait, the whole answer never."""
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        self.addCleanup(sock.close)

        def serve():
            conn, _ = sock.accept()
            with conn:
                conn.recv(4096)
                try:
                    conn.sendall(status_line.encode() + b"\r\n")
                    for i in range(20):
                        time.sleep(0.5)
                        conn.sendall(f"X-Drip-{i}: 1\r\n".encode())
                except OSError:
                    pass
        threading.Thread(target=serve, daemon=True).start()
        return f"127.0.0.1:{sock.getsockname()[1]}"

    def test_an_answer_that_drips_is_cut_at_one_deadline(self):
        # The kubelet counts a probe that outlives timeoutSeconds (5) as failed: for liveness
        # that would restart a healthy broker. The status line is kpa-agent's verdict.
        code, out, took = self.probe("liveness", addr=self.drip("HTTP/1.0 200 OK"))
        self.assertEqual((code, out), (0, "live\n"))
        self.assertLess(took, 4.5)
        code, out, took = self.probe("liveness", addr=self.drip("HTTP/1.0 503 Service Unavailable"))
        self.assertEqual((code, out), (1, "not live: kpa-agent answered 503: "))
        self.assertLess(took, 4.5)

    def test_liveness_without_a_known_process_asks_plain_livez(self):
        code, out, _ = self.probe("liveness", id_file=os.path.join(self.dir, "missing"))
        self.assertEqual((code, out), (0, "live\n"))
        self.assertEqual(Agent.paths, ["/livez"])

    def test_an_unknown_mode_is_refused(self):
        code, out, _ = self.probe("readiness")
        self.assertEqual((code, out), (2, 'kpa-probe.sh: mode "readiness" is not startup, liveness or prestop\n'))


class LateAgent:
    """A stand-in for kpa-agent's /prestop on a port chosen now: it listens only from
    `listen_after` seconds on; for each connection it reads the request, records it, holds it
    for `hold` seconds and then sends the next of `answers` ((status, body), or None: close
    without an answer, as a kpa-agent killed while holding it). The last answer repeats."""

    def __init__(self, answers, listen_after=0.0, hold=0.0):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.addr = f"127.0.0.1:{self.port}"
        self.answers, self.listen_after, self.hold = list(answers), listen_after, hold
        self.requests = []          # (monotonic time, request line)
        self.listening_at = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        if self.stopped.wait(self.listen_after):
            return
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(8)
        sock.settimeout(0.1)
        self.listening_at = time.monotonic()
        with sock:
            while not self.stopped.is_set():
                try:
                    conn, _ = sock.accept()
                except socket.timeout:
                    continue
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            n = len(self.requests)
            self.requests.append((time.monotonic(), data.split(b"\r\n")[0].decode()))
            answer = self.answers[min(n, len(self.answers) - 1)]
            if self.stopped.wait(self.hold) or answer is None:
                return
            code, body = answer
            reason = {200: "OK", 500: "Internal Server Error", 503: "Service Unavailable"}[code]
            conn.sendall(f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\n"
                         f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}".encode())

    def stop(self):
        self.stopped.set()
        self.thread.join(5)


class KpaProbePrestop(unittest.TestCase):
    """The preStop hook: bash kpa-probe.sh prestop HOST:PORT BUDGET_S (short budgets here; the
    manifest's is 150 s)."""

    def agent(self, answers, **kw):
        a = LateAgent(answers, **kw)
        self.addCleanup(a.stop)
        return a

    def hook(self, addr, budget="6", bound=30):
        t = time.monotonic()
        r = subprocess.run(["bash", SCRIPT, "prestop", addr, budget], capture_output=True, text=True,
                           timeout=bound)
        return r.returncode, r.stdout + r.stderr, time.monotonic() - t

    def test_waits_for_an_agent_that_is_down_then_for_its_held_answer(self):
        # Down for 2.5 s (a sidecar restarting), then it holds the request 3 s before deciding.
        a = self.agent([(200, "safe to stop: 3 hosted partitions keep min.insync.replicas\n")],
                       listen_after=2.5, hold=3)
        code, out, took = self.hook(a.addr, budget="20")
        self.assertEqual((code, out), (0, "safe to stop: 3 hosted partitions keep min.insync.replicas\n"))
        self.assertEqual([r[1] for r in a.requests], ["GET /prestop HTTP/1.0"])
        # Asked within about a second of the agent listening, and held until it answered.
        self.assertLess(a.requests[0][0] - a.listening_at, 1.5)
        self.assertGreaterEqual(took, 2.5 + 3)
        self.assertLess(took, 12)

    def test_an_agent_that_never_listens_ends_the_wait_at_the_budget_with_one_line(self):
        a = self.agent([(200, "never sent\n")], listen_after=3600)
        code, out, took = self.hook(a.addr, budget="4")
        self.assertEqual((code, out), (1, f"kpa-agent at {a.addr} did not answer within 4s: stopping without its gate\n"))
        self.assertGreaterEqual(took, 4.0)
        self.assertLess(took, 7.0)

    def test_an_answer_held_past_the_budget_is_cut_there(self):
        a = self.agent([(200, "too late\n")], hold=30)
        code, out, took = self.hook(a.addr, budget="3")
        self.assertEqual((code, out), (1, f"kpa-agent at {a.addr} did not answer within 3s: stopping without its gate\n"))
        self.assertEqual(len(a.requests), 1)
        self.assertLess(took, 6.0)

    def test_connections_closed_without_an_answer_are_tried_again_about_once_a_second(self):
        # An agent that accepts and dies before answering (killed while it held the request):
        # the hook asks again, paced, not in a busy loop.
        a = self.agent([None])
        code, out, took = self.hook(a.addr, budget="5")
        self.assertEqual((code, out), (1, f"kpa-agent at {a.addr} did not answer within 5s: stopping without its gate\n"))
        self.assertGreaterEqual(len(a.requests), 4)
        self.assertLessEqual(len(a.requests), 6)
        gaps = [b[0] - a_[0] for a_, b in zip(a.requests, a.requests[1:])]
        self.assertGreater(min(gaps), 0.8, gaps)

    def test_an_agent_killed_mid_hold_is_asked_again_once_back(self):
        a = self.agent([None, (200, "safe to stop: nothing hosted\n")], hold=1)
        code, out, _ = self.hook(a.addr, budget="20")
        self.assertEqual((code, out), (0, "safe to stop: nothing hosted\n"))
        self.assertEqual(len(a.requests), 2)

    def test_a_503_is_no_verdict_and_asked_again(self):
        # kpa-agent answers held requests 503 "shutting down" on SIGTERM (a restart of the
        # sidecar): that is no decision about the broker, so the hook keeps waiting.
        a = self.agent([(503, "shutting down\n"), (200, "safe to stop: nothing hosted\n")])
        code, out, _ = self.hook(a.addr, budget="20")
        self.assertEqual((code, out), (0, "safe to stop: nothing hosted\n"))
        self.assertEqual(len(a.requests), 2)
        self.assertGreater(a.requests[1][0] - a.requests[0][0], 0.8)

    def test_only_503s_until_the_budget_fail_with_the_last_answer(self):
        a = self.agent([(503, "not waiting: 32 /prestop requests are held already; not safe to stop now: x\n")])
        code, out, took = self.hook(a.addr, budget="3")
        self.assertEqual(code, 1)
        self.assertEqual(out, "kpa-agent's last answer was 503: not waiting: 32 /prestop requests are held "
                              "already; not safe to stop now: x\n"
                              f"kpa-agent at {a.addr} did not answer within 3s: stopping without its gate\n")
        self.assertLess(took, 6.0)

    def test_another_status_fails_at_once_with_the_answer(self):
        a = self.agent([(500, "answer too large\n")])
        code, out, took = self.hook(a.addr, budget="20")
        self.assertEqual((code, out), (1, f"kpa-agent at {a.addr} answered 500: answer too large\n"))
        self.assertEqual(len(a.requests), 1)
        self.assertLess(took, 5.0)

    def test_a_bad_budget_is_refused(self):
        for budget in ("0", "3601", "1.5", "-4", "ten"):
            code, out, _ = self.hook("127.0.0.1:1", budget=budget)
            self.assertEqual((code, out), (2, f'kpa-probe.sh: budget "{budget}" is not a whole number of '
                                              'seconds from 1 to 3600\n'), budget)


if __name__ == "__main__":
    unittest.main()
