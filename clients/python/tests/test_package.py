"""Tests of what the package adds to the drop-in: installation, the
binary's version check, python -m aliaslease, the slug rule, verify and
inspect, and the in-tree build backend. Same binary and setup as
test_aliaslease (ALIASLEASE_BIN, else built)."""

import base64
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import unittest
import zipfile

import test_aliaslease as base
from test_aliaslease import SRC, Base, aliaslease


def setUpModule():
    base.setUpModule()


def tearDownModule():
    base.tearDownModule()


class Installed(unittest.TestCase):
    def test_imported_from_where_expected(self):
        where = os.path.realpath(aliaslease.__file__)
        in_tree = where.startswith(os.path.realpath(SRC) + os.sep)
        if os.environ.get("ALIASLEASE_EXPECT_INSTALLED") == "1":
            self.assertFalse(in_tree, "aliaslease imported from the source tree (%s), not the installed package" % where)
            self.assertTrue(where.startswith(os.path.realpath(sys.prefix) + os.sep),
                            "aliaslease at %s, outside this Python's prefix %s" % (where, sys.prefix))
        self.assertEqual(aliaslease.__version__, "0.3.0")


class Version(Base):
    def test_built_binary_is_known(self):
        self.assertEqual(aliaslease.check_binary(base.BIN), base.BIN)
        self.assertEqual(aliaslease._checked_version(base.BIN), "0.3.0")

    def test_unknown_binary_is_refused_naming_both_versions(self):
        for printed, named in [("aliaslease version 0.4.0", "0.4.0"), ("aliaslease version 0.2.9", "0.2.9"),
                               ("aliaslease version 1.0.0-rc1", "1.0.0"),
                               ("aliaslease version (devel)", "(devel)"), ("", "''")]:
            with self.subTest(printed=printed):
                marker = os.path.join(self.dir, "ran")
                fake = self.fake_binary("open(%r, 'w').write(' '.join(sys.argv))\nprint('{}')\n" % marker, version=printed)
                with self.assertRaises(aliaslease.VersionMismatch) as cm:
                    aliaslease.acquire("s", binary=fake)
                e = cm.exception
                self.assertIn(named, e.message)
                self.assertIn("package %s" % aliaslease.__version__, e.message)
                self.assertIn("0.3.0 up to (not including) 0.4.0", e.message)
                self.assertEqual(e.package_version, aliaslease.__version__)
                self.assertIsInstance(e, aliaslease.AliasleaseError)
                self.assertFalse(os.path.exists(marker), "acquire ran after a version mismatch")

    def test_known_versions_are_accepted(self):
        for printed in ["aliaslease version 0.3.0", "aliaslease version v0.3.7", "aliaslease version 0.3.1+dirty"]:
            with self.subTest(printed=printed):
                fake = self.fake_binary("print('')\n", version=printed)
                self.assertEqual(aliaslease.check_binary(fake), fake)


class Main(Base):
    def run_main(self, *args):
        env = dict(os.environ, ALIASLEASE_DB=self.db, ALIASLEASE_DOCKER="off", PYTHONPATH=os.path.dirname(os.path.dirname(aliaslease.__file__)))
        return subprocess.run([sys.executable, "-m", "aliaslease"] + list(args), env=env, cwd=self.dir,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)

    def test_check(self):
        r = self.run_main("--binary", base.BIN)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("aliaslease Python package 0.3.0", r.stdout)
        self.assertIn("%s: 0.3.0" % base.BIN, r.stdout)

    def test_check_unknown_binary(self):
        fake = self.fake_binary("", version="aliaslease version 0.9.0")
        r = self.run_main("--binary", fake, "check")
        self.assertEqual(r.returncode, 1)
        self.assertIn("version 0.9.0", r.stderr)
        self.assertIn("package 0.3.0", r.stderr)

    def test_acquire_and_release(self):
        r = self.run_main("--binary", base.BIN, "acquire", "main-1")
        self.assertEqual(r.returncode, 0, r.stderr)
        lease = json.loads(r.stdout)
        self.assertEqual((lease["slug"], lease["alias"]), ("main-1", "127.0.0.16"))
        r = self.run_main("--binary", base.BIN, "release", "main-1", "--generation", str(lease["generation"]))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["alias"], "127.0.0.16")
        r = self.run_main("--binary", base.BIN, "acquire", "bad slug")
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_release_without_lease(self):
        # As the binary's release --json: its object saying nothing was
        # released, and its note on stderr; never "null".
        for args in (("release", "never-1"), ("release", "never-1", "--generation", "3")):
            with self.subTest(args=args):
                r = self.run_main("--binary", base.BIN, *args)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout), {"slug": "never-1", "released": False, "reason": "no-lease"})
                self.assertEqual(r.stdout.count("\n"), 1, r.stdout)
                self.assertIn("python -m aliaslease: note: never-1 has no lease; nothing released", r.stderr)
        r = self.run_main("--binary", base.BIN, "acquire", "main-2")
        gen = json.loads(r.stdout)["generation"]
        r = self.run_main("--binary", base.BIN, "release", "main-2", "--generation", str(gen + 1))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["reason"], "generation-mismatch")
        self.assertIn("note: generation mismatch", r.stderr)

    def test_release_of_a_binary_that_prints_nothing(self):
        fake = self.fake_binary("sys.stderr.write('aliaslease: note: s has no lease; nothing released\\n')\n")
        r = self.run_main("--binary", fake, "release", "s")
        self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)
        self.assertIn("note: s has no lease", r.stderr)


class Slugs(Base):
    def test_valid_slug_agrees_with_the_binary(self):
        for slug in ["a", "A.b_c-9", "9lives", "x" * 128, "x" * 129, "", "-a", ".a", "_a",
                     "my bottle", "bot/7", "bottle:1", "caf\u00e9", "a\n"]:
            with self.subTest(slug=slug):
                try:
                    aliaslease.acquire(slug, no_ifup=True, **self.opts)
                    took = True
                except aliaslease.UsageError:
                    took = False
                self.assertEqual(aliaslease.valid_slug(slug), took)


class VerifyInspect(Base):
    def test_a_binary_without_them(self):
        # The 0.3 binary has no verify or inspect: an unknown command, exit 2.
        for name, call in [("verify", lambda: aliaslease.verify("s", **self.opts)),
                           ("inspect", lambda: aliaslease.inspect("s", **self.opts))]:
            with self.subTest(command=name):
                if subprocess.run([base.BIN, "help", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
                    self.skipTest("this binary has %s" % name)
                with self.assertRaises(aliaslease.UsageError) as cm:
                    call()
                self.assertIn("unknown command", cm.exception.message)

    def test_verify_verdicts(self):
        fake = self.fake_binary(
            "v = os.environ['FAKE_VERDICT']\n"
            "print(json.dumps({'verdict': v, 'argv': sys.argv[1:]}))\n"
            "if v != 'isolated':\n"
            "    sys.stderr.write('aliaslease: error: bottle s is %s\\n' % v)\n"
            "    sys.exit(9)\n")
        os.environ["FAKE_VERDICT"] = "isolated"
        try:
            got = aliaslease.verify("s", ["docker", "exec", "c1", "/usr/local/bin/aliaslease"], via="10.0.2.2", binary=fake)
            self.assertEqual(got["argv"], ["verify", "--json", "--via", "10.0.2.2", "s", "--",
                                           "docker", "exec", "c1", "/usr/local/bin/aliaslease"])
            os.environ["FAKE_VERDICT"] = "leaky"
            with self.assertRaises(aliaslease.IsolationError) as cm:
                aliaslease.verify("s", binary=fake)
        finally:
            del os.environ["FAKE_VERDICT"]
        self.assertEqual(cm.exception.verdict["verdict"], "leaky")
        self.assertEqual(cm.exception.message, "bottle s is leaky")

    def test_inspect_returns_the_object(self):
        fake = self.fake_binary("print(json.dumps({'slug': sys.argv[-1], 'argv': sys.argv[1:]}))\n")
        got = aliaslease.inspect("s", binary=fake)
        self.assertEqual(got["argv"], ["inspect", "--json", "--", "s"])

    def test_inspect_without_lease_returns_none(self):
        if subprocess.run([base.BIN, "help", "inspect"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            self.skipTest("this binary has no inspect")
        self.assertIsNone(aliaslease.inspect("nobody", **self.opts))  # no database yet
        lease = aliaslease.acquire("ins-1", **self.opts)
        got = aliaslease.inspect("ins-1", **self.opts)
        self.assertEqual((got["slug"], got["alias"], got["generation"]), ("ins-1", lease.alias, lease.generation))
        self.assertIsNone(aliaslease.inspect("nobody", **self.opts))
        aliaslease.release("ins-1", **self.opts)
        self.assertIsNone(aliaslease.inspect("ins-1", **self.opts))
        # Other failures are still raised.
        with self.assertRaises(aliaslease.UsageError):
            aliaslease.inspect("bad slug", **self.opts)
        with open(self.db, "wb") as f:
            f.write(b"not a database\n" * 10)
        with self.assertRaises(aliaslease.DatabaseUnreadable):
            aliaslease.inspect("ins-1", **self.opts)

    def test_inspect_exit_1_without_the_array_is_an_error(self):
        # Only an exit 1 that printed the (empty) array is a missing lease.
        fake = self.fake_binary(
            "out = os.environ['FAKE_OUT']\n"
            "sys.stdout.write(out)\n"
            "sys.stderr.write('aliaslease: error: it failed\\n')\n"
            "sys.exit(1)\n")
        for out, want in (("[]\n", None), ("", aliaslease.UnexpectedError), ("[\n", aliaslease.UnexpectedError),
                          ("{}\n", aliaslease.UnexpectedError)):
            with self.subTest(stdout=out):
                os.environ["FAKE_OUT"] = out
                try:
                    if want is None:
                        self.assertIsNone(aliaslease.inspect("s", binary=fake))
                    else:
                        with self.assertRaises(want) as cm:
                            aliaslease.inspect("s", binary=fake)
                        self.assertEqual(cm.exception.message, "it failed")
                finally:
                    del os.environ["FAKE_OUT"]

    def test_inspect_takes_the_array(self):
        # The binary prints an array, as docker inspect does.
        fake = self.fake_binary("print(json.dumps([{'slug': sys.argv[-1]}]))\n")
        self.assertEqual(aliaslease.inspect("s", binary=fake), {"slug": "s"})


@unittest.skipUnless(os.path.isdir(os.path.join(SRC, "_backend")), "no source tree with the build backend")
class Backend(unittest.TestCase):
    def setUp(self):
        sys.path.insert(0, os.path.join(SRC, "_backend"))
        self.addCleanup(sys.path.remove, os.path.join(SRC, "_backend"))
        import aliaslease_build
        self.backend = aliaslease_build
        self.out = tempfile.mkdtemp(prefix="aliaslease-wheel-")
        self.addCleanup(__import__("shutil").rmtree, self.out, True)

    def test_wheel_record_matches_contents(self):
        name = self.backend.build_wheel(self.out)
        self.assertEqual(name, "aliaslease-0.3.0-py3-none-any.whl")
        with zipfile.ZipFile(os.path.join(self.out, name)) as z:
            names = set(z.namelist())
            for want in ["aliaslease/__init__.py", "aliaslease/__main__.py", "aliaslease-0.3.0.dist-info/METADATA"]:
                self.assertIn(want, names)
            rows = list(csv.reader(io.StringIO(z.read("aliaslease-0.3.0.dist-info/RECORD").decode())))
            self.assertEqual({r[0] for r in rows}, names)
            for path, digest, size in rows:
                if path.endswith("RECORD"):
                    continue
                data = z.read(path)
                want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                self.assertEqual((digest, int(size)), (want, len(data)), path)
            self.assertIn("Version: 0.3.0", z.read("aliaslease-0.3.0.dist-info/METADATA").decode())

    def test_sdist_holds_what_a_build_needs(self):
        name = self.backend.build_sdist(self.out)
        with tarfile.open(os.path.join(self.out, name)) as t:
            names = set(t.getnames())
        for want in ["pyproject.toml", "PKG-INFO", "_backend/aliaslease_build.py", "aliaslease/__init__.py"]:
            self.assertIn("aliaslease-0.3.0/" + want, names)
        self.assertEqual(self.backend.get_requires_for_build_wheel(), [])


if __name__ == "__main__":
    unittest.main()
