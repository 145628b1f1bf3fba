package test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDockerFaults: whatever goes wrong with Docker, gc exits 4 within
// the Docker timeout plus a second, and the database is untouched.
// acquire under on exits 4; under auto it decides from the leases alone
// (warning, reclaiming nothing) only when no engine is there (no socket,
// connection refused), and any failure of an engine that is there is
// exit 4 for a new lease as under on. Renewal and release never ask.
func TestDockerFaults(t *testing.T) {
	for _, tt := range []struct {
		fault   string
		noneYet bool // nothing there: auto falls back to the leases alone
	}{
		{fault: "unreachable", noneYet: true},
		{fault: "refused", noneYet: true},
		{fault: "hang"},
		{fault: "500"},
		{fault: "truncated"},
		{fault: "inspect500"},
	} {
		t.Run(tt.fault, func(t *testing.T) {
			host := newFakeEngine(t, tt.fault).host
			db := filepath.Join(t.TempDir(), "leases.db")
			env := []string{"ALIASLEASE_DB=" + db, "DOCKER_HOST=" + host}
			mustCLI(t, append(env, "ALIASLEASE_DOCKER=off"), "acquire", "old")
			before := readFile(t, db)
			const timeout = time.Second
			failing := [][]string{
				{"--docker-timeout", "1s", "--docker", "on", "gc", "--grace", "0s"},
				{"--docker-timeout", "1s", "--docker", "on", "acquire", "--grace", "0s", "new"},
				{"--docker-timeout", "1s", "--docker", "on", "list"},
			}
			if !tt.noneYet { // an engine that is there and fails: auto as on
				failing = append(failing,
					[]string{"--docker-timeout", "1s", "gc", "--grace", "0s"},
					[]string{"--docker-timeout", "1s", "gc", "--grace", "0s", "--dry-run"},
					[]string{"--docker-timeout", "1s", "acquire", "--grace", "0s", "new"})
			}
			for _, args := range failing {
				began := time.Now()
				r := cli(t, env, args...)
				took := time.Since(began)
				if r.code != 4 || r.stdout != "" || !strings.Contains(r.stderr, "aliaslease: error: container inventory unavailable") ||
					strings.Contains(r.stderr, fallbackWarning) {
					t.Errorf("aliaslease %s: %v, want exit 4 with nothing on stdout", strings.Join(args, " "), r)
				}
				if took > timeout+time.Second {
					t.Errorf("aliaslease %s took %v, more than the Docker timeout plus a second", strings.Join(args, " "), took)
				}
				if !bytes.Equal(before, readFile(t, db)) {
					t.Fatalf("aliaslease %s changed the database", strings.Join(args, " "))
				}
			}
			// A renewal never asks Docker: it succeeds at once even under on.
			began := time.Now()
			if r := cli(t, env, "--docker-timeout", "1s", "--docker", "on", "acquire", "old"); r.code != 0 || r.stdout != "127.0.0.16\n" || time.Since(began) > timeout/2 {
				t.Errorf("renewal under --docker on with a broken Docker: %v after %v, want 127.0.0.16 at once", r, time.Since(began))
			}
			// Neither does a release.
			mustCLI(t, append(env, "ALIASLEASE_DOCKER=off"), "acquire", "short-lived")
			if r := cli(t, env, "--docker-timeout", "1s", "--docker", "on", "release", "short-lived"); r.code != 0 || r.stdout != "127.0.0.17\n" {
				t.Errorf("release under --docker on with a broken Docker: %v, want 127.0.0.17", r)
			}
			if !tt.noneYet {
				return
			}
			// auto with no engine there: gc reclaims by the listeners and
			// process holders alone, and says so (contract: gc); a dry run
			// changes nothing.
			before = readFile(t, db)
			r := cli(t, env, "--docker-timeout", "1s", "gc", "--grace", "0s", "--dry-run")
			if r.code != 0 || r.stdout != "old 127.0.0.16 no-holder\n" || !strings.Contains(r.stderr, "reclaimed by the host's listeners and process holders alone") {
				t.Errorf("gc --dry-run under auto with no engine: %v, want old reclaimed with a note", r)
			}
			if !bytes.Equal(before, readFile(t, db)) {
				t.Fatalf("gc --dry-run changed the database")
			}
			// acquire: a warning, a lease from the leases (and listeners)
			// alone, nothing reclaimed.
			r = cli(t, env, "--docker-timeout", "1s", "acquire", "--grace", "0s", "new")
			if r.code != 0 || r.stdout != "127.0.0.17\n" || !strings.Contains(r.stderr, fallbackWarning) {
				t.Errorf("acquire under auto: %v, want 127.0.0.17 and a warning", r)
			}
			if list := mustCLI(t, append(env, "ALIASLEASE_DOCKER=off"), "list"); !strings.Contains(list, "old ") {
				t.Errorf("the old lease was reclaimed without Docker's answer:\n%s", list)
			}
		})
	}
}

// TestDockerOffNeverAsks: with --docker off no command contacts Docker
// (gc reclaims by the listeners and process holders alone); with a
// missing database, gc and list create nothing.
func TestDockerOffNeverAsks(t *testing.T) {
	engine := newFakeEngine(t, "")
	requests := &engine.requests
	db := filepath.Join(t.TempDir(), "state", "leases.db")
	env := append([]string{"ALIASLEASE_DB=" + db}, engine.env()...)

	// Missing database: gc and list (Docker asked, under auto) create nothing.
	if r := cli(t, env, "gc"); r.code != 0 || r.stdout != "" {
		t.Errorf("gc on a missing database: %v", r)
	}
	mustCLI(t, env, "list")
	if _, err := os.Stat(filepath.Dir(db)); !os.IsNotExist(err) {
		t.Errorf("gc or list created %s: %v", filepath.Dir(db), err)
	}
	if requests.Load() == 0 {
		t.Fatalf("the fake Docker was never asked under auto; the test would prove nothing")
	}
	requests.Store(0)
	for _, args := range [][]string{{"acquire", "a"}, {"acquire", "a"}, {"acquire", "b"}, {"list"}, {"release", "a"}, {"log"}} {
		mustCLI(t, append(env, "ALIASLEASE_DOCKER=off"), args...)
	}
	if r := cli(t, append(env, "ALIASLEASE_DOCKER=off"), "gc"); r.code != 0 || r.stdout != "" {
		t.Errorf("gc with Docker off: %v, want exit 0, nothing reclaimed", r)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("with --docker off, Docker was asked %d times", n)
	}
}

// writeContext makes a DOCKER_CONFIG whose current context is name, with
// the given endpoint, and returns its directory.
func writeContext(t *testing.T, name, host string) string {
	t.Helper()
	dir := t.TempDir()
	sum := sha256.Sum256([]byte(name))
	meta := filepath.Join(dir, "contexts", "meta", hex.EncodeToString(sum[:]))
	if err := os.MkdirAll(meta, 0o700); err != nil {
		t.Fatal(err)
	}
	js := fmt.Sprintf(`{"Name":%q,"Metadata":{},"Endpoints":{"docker":{"Host":%q,"SkipTLSVerify":false}}}`, name, host)
	if err := os.WriteFile(filepath.Join(meta, "meta.json"), []byte(js), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(fmt.Sprintf(`{"auths":{},"currentContext":%q}`, name)), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}
