"""Faults for the real-Kafka harness: what a node, a JVM or a network does to a broker pod.

  kill(pod)            SIGKILL to the kafka container's whole process group (a crash, an OOM
                       kill): the broker gets no controlled shutdown. The harness's Kubelet
                       starts the container again (restartPolicy Always), same volumes.
  paused(pod)          SIGSTOP to the kafka container's process group, SIGCONT at the end of
                       the block: a stop-the-world GC pause or a frozen node, the process keeps
                       its sockets and its state.
  link_cut(pod)        the pod's network link down (the host side of its veth), up again
                       at the end of the block: the broker runs on, cut off from everyone,
                       the kubelet's probes included.
  drop_tcp(pod, dev, (field, port)...) / undrop(pod, dev)
                       the pod's outgoing TCP packets on one device that match a port dropped
                       (e.g. its path to the controllers' listener), until undrop; the Env's
                       clean-up removes the namespace, and the drop with it.
  Timed(fault, pod, seconds)
                       paused or link_cut, held for a fixed time on a thread, so a test
                       can drive a rollout meanwhile; ended early by end() or the clean-up.

Every fault is undone whatever happens: the blocks restore in `finally`, and each fault also
registers with its Env, whose clean-up (atexit, SIGTERM, a failing setUpClass) resumes a
paused broker and brings a link back before it removes anything.

A link cut blinds the kubelet's probes too: the manifest's liveness probes (every 10 s,
3 failures) need 30 s of failures to restart a container, so a cut of 20 s makes the pod
NotReady but restarts nothing. (tc filters that would spare the kubelet need qdisc and
classifier modules this kernel does not have.) A fault never waits
unboundedly: each wait has a bound and says what it waited for.
"""
import contextlib
import os
import signal
import subprocess
import threading
import time

import harness as h


def _group_signal(pod, sig):
    """sig to every process of the pod's kafka container (its own process group)."""
    try:
        os.killpg(pod.broker.pid, sig)
    except ProcessLookupError:
        pass


class _Undo:
    """An undo step the Env runs at clean-up (it calls kill_group on what it holds), unless
    the fault was undone already."""

    def __init__(self, env, what, fn):
        self.what, self.fn, self.done = what, fn, False
        self.lock = threading.Lock()
        env.procs.append(self)

    def __call__(self):
        with self.lock:
            if self.done:
                return
            self.done = True
        self.fn()

    def kill_group(self):
        try:
            self()
        except Exception as e:  # clean-up goes on with the rest; say what was left
            h.log(f"undo of {self.what} failed: {e}")


def kill(pod, timeout=30):
    """SIGKILL to the broker's process group; waits for the exit. Returns the exit status
    as the kubelet would see it (-9: killed by SIGKILL)."""
    if not pod.broker.alive():
        raise RuntimeError(f"{pod.name}'s broker is not running: nothing to kill")
    _group_signal(pod, signal.SIGKILL)
    try:
        return pod.broker.p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"{pod.name}'s broker did not exit within {timeout}s of SIGKILL")


def _state(pid):
    """The process's state letter from /proc (T: stopped), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


@contextlib.contextmanager
def paused(pod):
    """The broker's processes stopped (SIGSTOP) for the block; SIGCONT at its end, always.
    Yields the monotonic time the stop was confirmed (the JVM's state is T)."""
    if not pod.broker.alive():
        raise RuntimeError(f"{pod.name}'s broker is not running: nothing to pause")
    undo = _Undo(pod.env, f"pause of {pod.name}", lambda: _group_signal(pod, signal.SIGCONT))
    try:
        _group_signal(pod, signal.SIGSTOP)
        h.wait_for(lambda: _state(pod.broker.pid) in ("T", "t"), 10, f"{pod.name}'s broker to stop")
        yield time.monotonic()
    finally:
        undo()


@contextlib.contextmanager
def link_cut(pod):
    """The pod's network link down for the block (the host side of its veth: a NIC, cable or
    CNI failure), up again at its end, always. The pod's own addresses still work inside it
    (the agent keeps talking to its broker); nothing outside reaches the pod, the kubelet's
    probes included. Yields the monotonic time the link went down."""
    name = f"{pod.ns}v"   # the harness names the host side after the namespace
    undo = _Undo(pod.env, f"link cut of {pod.name}",
                 lambda: h.run(["ip", "link", "set", name, "up"], timeout=30))
    try:
        h.run(["ip", "link", "set", name, "down"], timeout=30)
        yield time.monotonic()
    finally:
        undo()
    # Carrier back on the pod's side before the link counts as restored.
    h.wait_for(lambda: "LOWER_UP" in h.run(["ip", "-n", pod.ns, "link", "show", "eth0"]).stdout,
               30, f"{pod.name}'s eth0 to get its carrier back")


class Timed:
    """A fault (paused or link_cut) held for `seconds` on a thread, and longer while
    hold_until() is false, up to max_seconds in all (a test whose point needs the fault to
    have had an effect, e.g. KRaft fencing the broker, says so; a loaded machine's controller
    may notice late). started/ended are the monotonic times it took and left effect; end()
    ends it early; wait() waits for the end. The Env's clean-up ends it too (through the
    fault's own undo)."""

    def __init__(self, fault, pod, seconds, hold_until=None, max_seconds=None):
        self.fault, self.pod, self.seconds = fault, pod, seconds
        self.hold_until = hold_until
        self.max_seconds = max(max_seconds or seconds, seconds)
        self.started = self.ended = None
        self.error = None
        self.stop = threading.Event()
        self.began = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()
        if not self.began.wait(30):
            raise TimeoutError(f"{fault.__name__} of {pod.name} did not take effect in 30s")
        if self.error:
            raise self.error

    def _held_enough(self):
        try:
            return self.hold_until is None or bool(self.hold_until())
        except Exception:
            return False

    def _run(self):
        try:
            with self.fault(self.pod) as t:
                self.started = t
                self.began.set()
                if not self.stop.wait(self.seconds):
                    end = t + self.max_seconds
                    while not self._held_enough() and time.monotonic() < end:
                        if self.stop.wait(0.1):
                            break
            self.ended = time.monotonic()
        except BaseException as e:
            self.error = e
            self.began.set()

    @property
    def length(self):
        return None if self.ended is None else self.ended - self.started

    def end(self):
        self.stop.set()
        return self.wait()

    def wait(self, timeout=None):
        """Waits for the fault's end (at most its longest length plus 60 s); returns the end
        time."""
        self.t.join(timeout if timeout is not None else self.max_seconds + 60)
        if self.t.is_alive():
            raise TimeoutError(f"{self.fault.__name__} of {self.pod.name} did not end")
        if self.error:
            raise self.error
        return self.ended


# Packet drops inside a pod's network namespace (egress of one device only).

def _tc(pod, *args):
    """tc in the pod's network namespace (the harness runs as root)."""
    subprocess.run(["ip", "netns", "exec", pod.ns, "tc"] + list(args), check=True,
                   capture_output=True, text=True, timeout=30)


def drop_tcp(pod, dev, *matches):
    """Drops the pod's outgoing TCP packets on dev that match any of (field, port), with
    "dport" or "sport": an htb class whose queue holds no packet (the kernel here has neither
    netfilter nor tc's drop action). Undone by undrop."""
    _tc(pod, "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "1")
    for c in ("1:1", "1:2"):
        _tc(pod, "class", "add", "dev", dev, "parent", "1:", "classid", c, "htb", "rate", "10gbit",
            "quantum", "60000")
    _tc(pod, "qdisc", "add", "dev", dev, "parent", "1:2", "handle", "20:", "pfifo", "limit", "0")
    for field, port in matches:
        _tc(pod, "filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
            "match", "ip", field, str(port), "0xffff", "flowid", "1:2")


def undrop(pod, dev):
    """Removes drop_tcp's queue from dev (nothing if there is none)."""
    subprocess.run(["ip", "netns", "exec", pod.ns, "tc", "qdisc", "del", "dev", dev, "root"],
                   capture_output=True, timeout=30)
