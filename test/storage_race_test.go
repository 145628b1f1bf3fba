package test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/internal/fstree"
)

// racerUID is the unprivileged user the racer runs as (nobody).
const racerUID = 65534

// TestSymlinkRace: an unprivileged racer (uid 65534, a separate process,
// testdata/racer) swaps symbolic links and directories of its own into
// every directory it may write, as fast as it can, while root runs
// acquire, recover --force and directory creation many times on
// databases in and under those directories: a sticky shared directory
// (as /tmp), a world-writable one, one of the racer's own. aliaslease
// either works in a directory of its own making or refuses; no file
// outside is ever created, changed or re-moded, and nothing of root's
// appears anywhere but in the database directories it made.
func TestSymlinkRace(t *testing.T) {
	if !isRoot() {
		t.Skip("needs root, to run the racer as another user")
	}
	rounds := envInt("ALIASLEASE_RACE_ROUNDS", 40)
	a := newArena(t)
	before, baseBefore := a.guarded(t), fstree.Snapshot(a.base)
	names := []string{"leases.db", "leases.db.lock", "sub", "x"}
	for k := range rounds {
		names = append(names, fmt.Sprintf("sub-%d", k))
	}
	targets := []string{a.protected, filepath.Join(a.protected, "secret"), filepath.Join(a.protected, "empty"), filepath.Join(a.protected, "inner"), a.open}
	racer := startRacer(t, a.bin, []string{a.shared, a.loose, a.own}, targets, names)

	engine := newFakeEngine(t, "").env()
	outcomes := map[string]int{}
	run := func(db string, args ...string) result {
		r := cliBounded(t, 20*time.Second, append([]string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off"}, engine...), args...)
		switch r.code {
		case 0, 1, 6, 8: // done, or refused
		default:
			t.Errorf("%v on %s under the race: %v, want done or refused", args, db, r)
		}
		command := "acquire"
		if contains(args, "recover") {
			command = "recover"
		}
		outcomes[fmt.Sprintf("%s %s exit %d", command, kindOf(db, a.base), r.code)]++
		return r
	}
	for k := range rounds {
		mine := filepath.Join(a.shared, fmt.Sprintf("sub-%d", k), "leases.db")
		if r := run(mine, "acquire", "s"); r.code == 0 {
			run(mine, "--docker", "auto", "recover", "--force", "--from-docker")
			run(mine, "acquire", "t")
		}
		for _, db := range []string{filepath.Join(a.shared, "leases.db"), filepath.Join(a.loose, "x", "leases.db"),
			filepath.Join(a.own, "sub", "leases.db"), filepath.Join(a.own, "leases.db")} {
			if r := run(db, "acquire", "s"); r.code == 0 {
				t.Errorf("acquire with --db %s, in or under a directory the racer can write, succeeded", db)
			}
		}
	}
	planted := racer()
	t.Logf("racer: %s; aliaslease: %v", planted, outcomes)
	if strings.HasPrefix(planted, "planted 0 ") {
		t.Errorf("the racer planted nothing: %s", planted)
	}
	storageSameTree(t, "files the racer aimed at", before, a.guarded(t))
	checkRootOwned(t, a.base, baseBefore, a.shared)
}

// arena is the race's ground: what the racer aims at (protected: root's,
// 0700, with a file, an empty file and a directory; open: root's, 0755),
// the directories it may write (shared: 1777 as /tmp; loose: 0777; own:
// its own), and bin, where its program is.
type arena struct {
	base, protected, open, shared, loose, own, bin string
}

func newArena(t *testing.T) arena {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Not t.TempDir: the racer must reach the directories below, and a
	// test's temporary directory sits in one only root may enter.
	base, err := os.MkdirTemp("", "aliaslease-race")
	must(err)
	t.Cleanup(func() { os.RemoveAll(base) })
	must(os.Chmod(base, 0o755))
	mk := func(name string, mode os.FileMode, uid int) string {
		p := filepath.Join(base, name)
		must(os.Mkdir(p, 0o700))
		must(os.Chmod(p, mode))
		must(os.Chown(p, uid, uid))
		return p
	}
	a := arena{base: base, protected: mk("protected", 0o700, 0), open: mk("open", 0o755, 0),
		shared: mk("shared", 0o777|os.ModeSticky, 0), loose: mk("loose", 0o777, 0), own: mk("racer", 0o755, racerUID), bin: mk("bin", 0o755, 0)}
	must(os.WriteFile(filepath.Join(a.protected, "secret"), []byte("root only\n"), 0o644))
	must(os.WriteFile(filepath.Join(a.protected, "empty"), nil, 0o600))
	must(os.Mkdir(filepath.Join(a.protected, "inner"), 0o755))
	if err := goBuild(filepath.Join(a.bin, "racer"), "./testdata/racer", nil); err != nil {
		t.Fatal(err)
	}
	return a
}

// guarded describes what the racer aims at.
func (a arena) guarded(t *testing.T) map[string]string {
	m := fstree.Snapshot(a.protected)
	for k, v := range fstree.Snapshot(a.open) {
		m[k] = v
	}
	return m
}

// kindOf names the kind of database path a result was for.
func kindOf(db, base string) string {
	rel, _ := filepath.Rel(base, db)
	return regexp.MustCompile(`sub-\d+`).ReplaceAllString(rel, "sub-K")
}

// startRacer starts bin/racer (built from testdata/racer) as racerUID;
// the returned function stops it and returns what it says it did.
func startRacer(t *testing.T, bin string, dirs, targets, names []string) (stop func() string) {
	t.Helper()
	exe := filepath.Join(bin, "racer")
	cmd := command(exe, nil, "-dirs", strings.Join(dirs, ":"), "-targets", strings.Join(targets, ":"), "-names", strings.Join(names, ":"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: racerUID, Gid: racerUID}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	p := startProc(t, cmd)
	stopped := false
	stop = func() string {
		if !stopped {
			stopped = true
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.result()
		}
		return strings.TrimSpace(out.String())
	}
	t.Cleanup(func() { stop() })
	time.Sleep(100 * time.Millisecond) // let it start planting
	return stop
}

// checkRootOwned fails the test for every entry under base that root
// owns now and did not before, unless it is a database directory made
// under shared (sub-K, 0700) or a database file in one (0600, one link).
func checkRootOwned(t *testing.T, base string, before map[string]string, shared string) {
	t.Helper()
	dbDir := regexp.MustCompile(`^` + regexp.QuoteMeta(shared) + `/sub-\d+$`)
	dbFile := regexp.MustCompile(`^` + regexp.QuoteMeta(shared) + `/sub-\d+/leases\.db(\.lock|\.aside-[0-9TZ.]+)?$`)
	made := 0
	for p, desc := range fstree.Snapshot(base) {
		if _, ok := before[p]; ok || !strings.Contains(desc, " uid=0 ") {
			continue
		}
		var st syscall.Stat_t
		syscall.Lstat(p, &st)
		switch {
		case dbDir.MatchString(p) && st.Mode == syscall.S_IFDIR|0o700:
			made++
		case dbFile.MatchString(p) && st.Mode == syscall.S_IFREG|0o600 && st.Nlink == 1:
		default:
			t.Errorf("root made %s (%s), outside any database directory it created", p, desc)
		}
	}
	t.Logf("database directories made under the shared directory: %d", made)
	for _, dir := range mustGlob(t, filepath.Join(shared, "sub-*")) {
		var st syscall.Stat_t
		db := filepath.Join(dir, "leases.db")
		if syscall.Lstat(dir, &st) == nil && st.Uid == 0 && st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
			if fi, err := os.Lstat(db); err == nil && fi.Mode().IsRegular() {
				checkDB(t, db)
			}
		}
	}
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
