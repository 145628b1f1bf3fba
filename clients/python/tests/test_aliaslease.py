"""Tests of the Python client against the real aliaslease binary.

Run from the repository root, against the installed package (CI installs
it into a fresh venv: see .ci/run):

    python3 -m unittest discover -s clients/python/tests -v

When the package is not installed, the tests import it from the source
tree (clients/python); ALIASLEASE_EXPECT_INSTALLED=1 makes that a failure.

The binary is ``ALIASLEASE_BIN`` when set; otherwise it is built once with
``go build -o <tmp>/aliaslease ./cmd/aliaslease`` (the tests are skipped
with a message when ``go`` is not available). Every test has its own
temporary database and runs with ``docker="off"``: no Docker is needed.
"""

import datetime as dt
import fcntl
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

# The tests set what they need; settings of the environment they run in
# (ALIASLEASE_POOL, ALIASLEASE_DB, ...) must not leak into them.
_KEEP = ("ALIASLEASE_BIN", "ALIASLEASE_EXPECT_INSTALLED")  # the tests' own settings
for _name in [k for k in os.environ if k.startswith("ALIASLEASE_") and k not in _KEEP]:
    del os.environ[_name]


HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)  # clients/python
ROOT = os.path.dirname(os.path.dirname(SRC))
try:
    import aliaslease
except ImportError:  # not installed: the source tree's
    sys.path.insert(0, SRC)
    import aliaslease
from aliaslease import (  # noqa: E402
    AliasleaseError,
    BinaryNotFound,
    DatabaseUnreadable,
    DockerUnavailable,
    CommandNotExecutable,
    CommandNotFound,
    HealthProblem,
    InterfaceError,
    Interrupted,
    IsolationError,
    LockTimeout,
    RunFailed,
    UnsafePath,
    VersionMismatch,
    OutputError,
    PoolExhausted,
    UnexpectedError,
    UsageError,
)

BIN = None
_build_dir = None


def setUpModule():
    global BIN, _build_dir
    env_bin = os.environ.get("ALIASLEASE_BIN")
    if env_bin:
        BIN = env_bin if os.sep in env_bin else shutil.which(env_bin)
        if not BIN or not os.access(BIN, os.X_OK):
            raise RuntimeError("ALIASLEASE_BIN=%r is not an executable" % env_bin)
        return
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go", os.X_OK) else None
    )
    if not go:
        raise unittest.SkipTest(
            "aliaslease client tests skipped: ALIASLEASE_BIN is not set and `go` "
            "is not on PATH to build ./cmd/aliaslease"
        )
    _build_dir = tempfile.mkdtemp(prefix="aliaslease-pytest-bin-")
    BIN = os.path.join(_build_dir, "aliaslease")
    res = subprocess.run(
        [go, "build", "-o", BIN, "./cmd/aliaslease"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
    )
    if res.returncode != 0:
        raise RuntimeError("go build ./cmd/aliaslease failed:\n" + res.stdout)


def tearDownModule():
    if _build_dir:
        shutil.rmtree(_build_dir, ignore_errors=True)


class Base(unittest.TestCase):
    def setUp(self):
        aliaslease.configure(reset=True)
        self.dir = tempfile.mkdtemp(prefix="aliaslease-pytest-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.addCleanup(aliaslease.configure, reset=True)
        self.db = os.path.join(self.dir, "state", "leases.db")
        self.opts = {"binary": BIN, "db": self.db, "docker": "off"}

    def fake_binary(self, script, version="aliaslease version 0.3.0"):
        """An executable that stands in for aliaslease: prints `version`
        for --version, else runs `script` (Python)."""
        path = os.path.join(self.dir, "fake-aliaslease")
        with open(path, "w") as f:
            f.write("#!%s\nimport sys, os, signal, json\n"
                    "if sys.argv[1:] == ['--version']:\n    print(%r)\n    sys.exit(0)\n%s\n"
                    % (sys.executable, version, script))
        os.chmod(path, stat.S_IRWXU)
        return path


class RoundTrip(Base):
    def test_acquire_release_round_trip(self):
        lease = aliaslease.acquire("bottle-1", **self.opts)
        self.assertEqual(lease.slug, "bottle-1")
        self.assertEqual(lease.alias, "127.0.0.16")
        self.assertIsInstance(lease.generation, int)
        self.assertGreater(lease.generation, 0)
        self.assertEqual(lease.reason, "new")
        self.assertIsInstance(lease.acquired_at, dt.datetime)
        self.assertEqual(lease.acquired_at.utcoffset(), dt.timedelta(0))
        self.assertLess(abs(dt.datetime.now(dt.timezone.utc) - lease.acquired_at), dt.timedelta(minutes=5))
        self.assertIn("acquired_at", lease.raw)

        again = aliaslease.acquire("bottle-1", **self.opts)
        self.assertEqual(again.alias, lease.alias)
        self.assertEqual(again.generation, lease.generation)
        self.assertEqual(again.reason, "renewed")
        self.assertGreaterEqual(again.renewed_at, lease.renewed_at)

        other = aliaslease.acquire("bottle-2", **self.opts)
        self.assertEqual(other.alias, "127.0.0.17")

        freed = aliaslease.release("bottle-1", **self.opts)
        self.assertIsInstance(freed, aliaslease.Lease)
        self.assertEqual((freed.slug, freed.alias, freed.generation), ("bottle-1", lease.alias, lease.generation))
        self.assertIsNone(aliaslease.release("bottle-1", **self.opts))
        self.assertIsNone(aliaslease.release("never-acquired", **self.opts))

        # The freed alias is the lowest free one again; a new lease has a
        # higher generation.
        back = aliaslease.acquire("bottle-3", **self.opts)
        self.assertEqual(back.alias, lease.alias)
        self.assertGreater(back.generation, other.generation)

    def test_release_without_database_returns_none(self):
        self.assertIsNone(aliaslease.release("bottle-1", **self.opts))
        self.assertFalse(os.path.exists(self.db))

    def test_allocate_returns_the_alias_acquire_returns(self):
        self.assertEqual(aliaslease.allocate("a", **self.opts), aliaslease.acquire("a", **self.opts).alias)
        b = aliaslease.acquire("b", **self.opts)
        self.assertEqual(aliaslease.allocate("b", **self.opts), b.alias)
        self.assertNotEqual(aliaslease.allocate("a", **self.opts), b.alias)

    def test_allocate_old_signature_with_configure(self):
        # The old call site, unchanged: allocate(slug), options configured
        # once for the module.
        aliaslease.configure(**self.opts)
        alias = aliaslease.allocate("launcher-bottle")
        self.assertIsInstance(alias, str)
        self.assertEqual(alias, "127.0.0.16")
        self.assertEqual(aliaslease.acquire("launcher-bottle").alias, alias)

    def test_generation_conditional_release(self):
        lease = aliaslease.acquire("g", **self.opts)
        self.assertIsNone(aliaslease.release("g", generation=lease.generation + 1000, **self.opts))
        # Nothing was released: the same lease is still there.
        still = aliaslease.acquire("g", **self.opts)
        self.assertEqual((still.alias, still.generation), (lease.alias, lease.generation))
        freed = aliaslease.release("g", generation=lease.generation, **self.opts)
        self.assertEqual(freed.generation, lease.generation)
        # A late release of the old generation does not free a new lease.
        new = aliaslease.acquire("g", **self.opts)
        self.assertGreater(new.generation, lease.generation)
        self.assertIsNone(aliaslease.release("g", generation=lease.generation, **self.opts))
        self.assertEqual(aliaslease.acquire("g", **self.opts).generation, new.generation)

    def test_options_no_ifup_grace_pool(self):
        lease = aliaslease.acquire("n", no_ifup=True, grace=dt.timedelta(minutes=5),
                                   pool="127.0.0.40-127.0.0.41", **self.opts)
        self.assertEqual(lease.alias, "127.0.0.40")

    def test_ensure_pool(self):
        added = aliaslease.ensure_pool(**self.opts)
        self.assertIsInstance(added, list)
        if sys.platform.startswith("linux"):
            self.assertEqual(added, [])


class Errors(Base):
    def test_pool_exhausted(self):
        one = dict(self.opts, pool="127.0.0.16")
        self.assertEqual(aliaslease.acquire("first", **one).alias, "127.0.0.16")
        with self.assertRaises(PoolExhausted) as cm:
            aliaslease.acquire("second", **one)
        e = cm.exception
        self.assertEqual(e.exit_code, 3)
        self.assertIsInstance(e, AliasleaseError)
        self.assertIn("pool exhausted", e.message)
        self.assertFalse(e.message.startswith("aliaslease:"))
        self.assertIn("release", e.hint)
        self.assertEqual(e.stdout, "")
        self.assertIsNone(aliaslease.release("second", **one))

    def test_wait_gives_up_then_succeeds_after_release(self):
        one = dict(self.opts, pool="127.0.0.16")
        first = aliaslease.acquire("first", **one)
        t0 = time.monotonic()
        with self.assertRaises(PoolExhausted):
            aliaslease.acquire("second", wait=0.3, **one)
        self.assertGreaterEqual(time.monotonic() - t0, 0.25)

        timer = threading.Timer(0.5, aliaslease.release, ("first",), one)
        timer.start()
        self.addCleanup(timer.cancel)
        second = aliaslease.acquire("second", wait=dt.timedelta(seconds=20), **one)
        self.assertEqual(second.alias, first.alias)

    def test_damaged_database(self):
        os.makedirs(os.path.dirname(self.db), mode=0o700)
        garbage = b"this is not a bbolt database\n" * 10
        with open(self.db, "wb") as f:
            f.write(garbage)
        os.chmod(self.db, 0o600)
        for call in (lambda: aliaslease.acquire("x", **self.opts),
                     lambda: aliaslease.allocate("x", **self.opts),
                     lambda: aliaslease.release("x", **self.opts)):
            with self.assertRaises(DatabaseUnreadable) as cm:
                call()
            self.assertEqual(cm.exception.exit_code, 6)
            self.assertIn("unreadable", cm.exception.message)
            with open(self.db, "rb") as f:
                self.assertEqual(f.read(), garbage)

    def test_bad_slug_is_usage_error(self):
        for slug in ("bad slug", "-leading-dash", "", "x" * 129, "a/b"):
            with self.subTest(slug=slug):
                with self.assertRaises(UsageError) as cm:
                    aliaslease.acquire(slug, **self.opts)
                self.assertEqual(cm.exception.exit_code, 2)
                self.assertTrue(cm.exception.message)
        with self.assertRaises(UsageError) as cm:
            aliaslease.acquire("bad slug", **self.opts)
        self.assertIn("invalid slug", cm.exception.message)
        self.assertFalse(os.path.exists(self.db))

    def test_bad_options_are_usage_errors(self):
        with self.assertRaises(UsageError):
            aliaslease.acquire("ok", pool="10.0.0.1", **dict(self.opts))
        with self.assertRaises(UsageError):
            aliaslease.acquire("ok", **dict(self.opts, docker="maybe"))
        with self.assertRaises(TypeError):
            aliaslease.acquire("ok", no_such_option=1, **self.opts)

    def test_lock_timeout(self):
        aliaslease.acquire("holder", **self.opts)
        lock = self.db + ".lock"
        with open(lock, "r+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            with self.assertRaises(LockTimeout) as cm:
                aliaslease.acquire("waiter", lock_timeout=0.2, **self.opts)
        self.assertEqual(cm.exception.exit_code, 5)
        self.assertIn(lock, cm.exception.message)

    def test_docker_unavailable(self):
        opts = dict(self.opts, docker="on", docker_host="tcp://127.0.0.1:1", docker_timeout=2)
        with self.assertRaises(DockerUnavailable) as cm:
            aliaslease.acquire("d", **opts)
        self.assertEqual(cm.exception.exit_code, 4)

    def test_binary_not_found(self):
        with self.assertRaises(BinaryNotFound) as cm:
            aliaslease.acquire("x", **dict(self.opts, binary=os.path.join(self.dir, "nope")))
        self.assertIsInstance(cm.exception, FileNotFoundError)
        self.assertIsNone(cm.exception.exit_code)
        old = os.environ.get("ALIASLEASE_BIN"), os.environ.get("PATH")
        try:
            os.environ["ALIASLEASE_BIN"] = "no-such-aliaslease-binary"
            with self.assertRaises(BinaryNotFound):
                aliaslease.allocate("x", db=self.db, docker="off")
            del os.environ["ALIASLEASE_BIN"]
            os.environ["PATH"] = self.dir
            with self.assertRaises(BinaryNotFound) as cm:
                aliaslease.ensure_pool()
            self.assertIn("ALIASLEASE_BIN", str(cm.exception))
        finally:
            for k, v in zip(("ALIASLEASE_BIN", "PATH"), old):
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def test_binary_from_environment(self):
        old = os.environ.get("ALIASLEASE_BIN")
        os.environ["ALIASLEASE_BIN"] = BIN
        try:
            self.assertEqual(aliaslease.allocate("env", db=self.db, docker="off"), "127.0.0.16")
        finally:
            if old is None:
                del os.environ["ALIASLEASE_BIN"]
            else:
                os.environ["ALIASLEASE_BIN"] = old

    def test_every_exit_code_maps_to_its_exception(self):
        fake = self.fake_binary(
            "code = int(os.environ['FAKE_CODE'])\n"
            "sys.stderr.write('aliaslease: warning: a warning\\n')\n"
            "sys.stderr.write('aliaslease: error: failed with %d\\n' % code)\n"
            "sys.stderr.write('aliaslease: hint: try again\\n')\n"
            "sys.exit(code)\n"
        )
        cases = {
            1: UnexpectedError, 2: UsageError, 3: PoolExhausted, 4: DockerUnavailable,
            5: LockTimeout, 6: DatabaseUnreadable, 7: InterfaceError,
            8: UnsafePath, 9: IsolationError, 10: HealthProblem, 125: RunFailed,
            126: CommandNotExecutable, 127: CommandNotFound,
            130: Interrupted, 143: Interrupted, 42: AliasleaseError,
        }
        classes = [UnexpectedError, UsageError, PoolExhausted, DockerUnavailable,
                   LockTimeout, DatabaseUnreadable, InterfaceError, UnsafePath,
                   IsolationError, HealthProblem, RunFailed, CommandNotExecutable,
                   CommandNotFound, Interrupted]
        self.assertEqual(len(set(classes)), len(classes))
        for code, cls in cases.items():
            with self.subTest(code=code):
                os.environ["FAKE_CODE"] = str(code)
                try:
                    with self.assertLogs("aliaslease", logging.WARNING) as logs:
                        with self.assertRaises(AliasleaseError) as cm:
                            aliaslease.acquire("s", binary=fake)
                finally:
                    del os.environ["FAKE_CODE"]
                e = cm.exception
                self.assertIs(type(e), cls)
                self.assertEqual(e.exit_code, code)
                self.assertEqual(e.message, "failed with %d" % code)
                self.assertEqual(str(e), e.message)
                self.assertEqual(e.hint, "try again")
                self.assertIn("aliaslease: warning: a warning", e.stderr)
                self.assertIn("warning: a warning", logs.output[0])
                self.assertEqual(e.argv[0], fake)
                if code == 130:
                    self.assertEqual(e.signal, "SIGINT")
                if code == 143:
                    self.assertEqual(e.signal, "SIGTERM")

    @unittest.skipUnless(os.path.isdir("/proc/self/task"), "needs /proc to find the child")
    def test_sigterm_while_waiting_is_interrupted(self):
        one = dict(self.opts, pool="127.0.0.16")
        aliaslease.acquire("first", **one)
        result = {}

        def waiter():
            try:
                result["lease"] = aliaslease.acquire("second", wait=60, **one)
            except AliasleaseError as e:
                result["error"] = e

        t = threading.Thread(target=waiter)
        t.start()
        child = None
        deadline = time.monotonic() + 10
        while child is None and time.monotonic() < deadline:
            time.sleep(0.05)
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open("/proc/%s/stat" % pid) as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        argv = f.read().split(b"\0")
                except OSError:
                    continue
                if int(fields[1]) == os.getpid() and b"second" in argv:
                    child = int(pid)
        self.assertIsNotNone(child, "the aliaslease child was not found")
        time.sleep(0.3)  # let it reach the --wait loop
        os.kill(child, signal.SIGTERM)
        t.join(20)
        self.assertFalse(t.is_alive())
        e = result.get("error")
        self.assertIsInstance(e, Interrupted, result)
        self.assertEqual((e.exit_code, e.signal), (143, "SIGTERM"))
        self.assertIsNone(aliaslease.release("second", **one))

    def test_killed_by_signal_is_interrupted(self):
        fake = self.fake_binary("os.kill(os.getpid(), signal.SIGTERM)\n")
        with self.assertRaises(Interrupted) as cm:
            aliaslease.release("s", binary=fake)
        self.assertEqual(cm.exception.exit_code, 143)
        self.assertIn("SIGTERM", cm.exception.message)

    def test_multi_line_error_and_no_prefix(self):
        fake = self.fake_binary(
            "sys.stderr.write('aliaslease: error: one\\naliaslease: error: two\\n'); sys.exit(1)"
        )
        with self.assertRaises(UnexpectedError) as cm:
            aliaslease.release("s", binary=fake)
        self.assertEqual(cm.exception.message, "one\ntwo")
        fake = self.fake_binary("sys.stderr.write('panic: something\\n'); sys.exit(2)")
        with self.assertLogs("aliaslease", logging.WARNING):
            with self.assertRaises(UsageError) as cm:
                aliaslease.release("s", binary=fake)
        self.assertEqual(cm.exception.message, "panic: something")

    def test_release_output_shapes(self):
        # Nothing on stdout, an object saying nothing was released, and a
        # lease: None, None, a Lease.
        fake = self.fake_binary(
            "mode = os.environ['FAKE_MODE']\n"
            "if mode == 'nothing':\n"
            "    sys.stderr.write('aliaslease: note: s has no lease; nothing released\\n')\n"
            "elif mode == 'object':\n"
            "    print(json.dumps({'slug': 's', 'released': False}))\n"
            "elif mode == 'garbage':\n"
            "    print('not json')\n"
            "else:\n"
            "    print(json.dumps({'slug': 's', 'alias': '127.0.0.20', 'generation': 7,\n"
            "        'acquired_at': '2026-01-02T03:04:05.123456789Z', 'renewed_at': '2026-01-02T03:04:05Z'}))\n"
        )
        for mode, want in (("nothing", None), ("object", None)):
            os.environ["FAKE_MODE"] = mode
            try:
                self.assertIsNone(aliaslease.release("s", binary=fake), mode)
            finally:
                del os.environ["FAKE_MODE"]
        os.environ["FAKE_MODE"] = "lease"
        try:
            lease = aliaslease.release("s", generation=7, binary=fake)
        finally:
            del os.environ["FAKE_MODE"]
        self.assertEqual((lease.alias, lease.generation), ("127.0.0.20", 7))
        self.assertEqual(lease.acquired_at, dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt.timezone.utc))
        self.assertIsNone(lease.reason)
        os.environ["FAKE_MODE"] = "garbage"
        try:
            with self.assertRaises(OutputError):
                aliaslease.release("s", binary=fake)
        finally:
            del os.environ["FAKE_MODE"]

    def test_argv_passes_options_and_ends_flags(self):
        fake = self.fake_binary("print(json.dumps(sys.argv[1:]))\nsys.exit(9)\n")
        with self.assertRaises(AliasleaseError) as cm:
            aliaslease.acquire("slug-1", wait=2.5, grace=dt.timedelta(minutes=10), no_ifup=True,
                               binary=fake, db=self.db, pool="127.0.0.16-127.0.0.17",
                               docker="off", docker_host="unix:///x.sock",
                               docker_timeout=dt.timedelta(milliseconds=1500), lock_timeout="3s")
        import json
        self.assertEqual(json.loads(cm.exception.stdout), [
            "--db", self.db, "--pool", "127.0.0.16-127.0.0.17", "--docker", "off",
            "--docker-host", "unix:///x.sock", "--docker-timeout", "1500000us",
            "--lock-timeout", "3s", "acquire", "--json", "--wait", "2.5s",
            "--grace", "600s", "--no-ifup", "--", "slug-1",
        ])

    def test_durations(self):
        d = aliaslease.duration
        self.assertEqual(d(2.5), "2.5s")
        self.assertEqual(d(3), "3s")
        self.assertEqual(d(0.25), "0.25s")
        self.assertEqual(d(dt.timedelta(seconds=90)), "90s")
        self.assertEqual(d(dt.timedelta(milliseconds=1)), "1000us")
        self.assertEqual(d("1m30s"), "1m30s")
        with self.assertRaises(TypeError):
            d(True)
        with self.assertRaises(ValueError):
            d(float("inf"))


if __name__ == "__main__":
    unittest.main()
