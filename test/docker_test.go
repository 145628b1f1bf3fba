package test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dockerEnv is the environment of a CLI run against the real engine
// (skipping the test when none answers), on a database of the test's own
// and a pool of 16 addresses that no container on the engine uses.
func dockerEnv(t *testing.T) (db string, env []string, p testPool) {
	t.Helper()
	env = needDocker(t)
	p = freePool(t, 16)
	db = filepath.Join(t.TempDir(), "leases.db")
	return db, append(env, "ALIASLEASE_DB="+db, "ALIASLEASE_DOCKER=on", "ALIASLEASE_POOL="+p.spec()), p
}

func wantAlias(t *testing.T, env []string, slug, want string, extra ...string) {
	t.Helper()
	args := append([]string{"acquire"}, extra...)
	got := strings.TrimSpace(mustCLI(t, env, append(args, slug)...))
	if got != want {
		t.Errorf("acquire(%q) = %s, want %s", slug, got, want)
	}
}

type row struct {
	Slug    *string `json:"slug"`
	Alias   string  `json:"alias"`
	State   string  `json:"state"`
	Reason  string  `json:"reason"`
	Holders []struct {
		Name  string `json:"name"`
		Slug  string `json:"slug"`
		State string `json:"state"`
	} `json:"holders"`
}

func listJSON(t *testing.T, env []string, extra ...string) map[string]row {
	t.Helper()
	var rows []row
	out := mustCLI(t, env, append([]string{"list", "--json"}, extra...)...)
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	m := map[string]row{}
	for _, r := range rows {
		m[r.Alias] = r
	}
	return m
}

func TestForeignRunningContainerSkipped(t *testing.T) {
	_, env, p := dockerEnv(t)
	start(t, container{name: "foreign", alias: p.at(0), port: 18080})
	wantAlias(t, env, "a", p.at(1))
	rows := listJSON(t, env)
	if r := rows[p.at(0)]; r.State != "foreign" || r.Slug != nil || len(r.Holders) != 1 {
		t.Errorf("list row of %s = %+v, want foreign with one holder and slug null", p.at(0), r)
	}
	if r := rows[p.at(1)]; r.State != "pending" {
		t.Errorf("list row of %s = %+v, want pending", p.at(1), r)
	}
}

func TestCreatedAndExitedContainersHold(t *testing.T) {
	_, env, p := dockerEnv(t)
	start(t, container{name: "created", alias: p.at(0), port: 18081, state: "created"})
	start(t, container{name: "exited", alias: p.at(1), port: 18082, state: "exited"})
	wantAlias(t, env, "a", p.at(2))
	rows := listJSON(t, env)
	for alias, state := range map[string]string{p.at(0): "created", p.at(1): "exited"} {
		if r := rows[alias]; r.State != "foreign" || len(r.Holders) != 1 || r.Holders[0].State != state {
			t.Errorf("list row of %s = %+v, want foreign, held by a %s container", alias, r, state)
		}
	}
}

func TestGCReclaimsOnlyAfterGrace(t *testing.T) {
	db, env, p := dockerEnv(t)
	wantAlias(t, env, "gone", p.at(0))
	wantAlias(t, env, "busy", p.at(1))
	c := start(t, container{name: "gone", alias: p.at(0), port: 18083, slug: "gone"})
	start(t, container{name: "busy", alias: p.at(1), port: 18084, slug: "busy"})

	// Both live: nothing to do, and gc says nothing.
	if out := mustCLI(t, env, "gc", "--grace", "0s"); out != "" {
		t.Errorf("gc with every lease live printed %q, want nothing", out)
	}
	remove(t, c)
	// Holderless but within the grace period: kept.
	if out := mustCLI(t, env, "gc"); out != "" {
		t.Errorf("gc within the grace period printed %q, want nothing", out)
	}
	// --dry-run prints what gc would do, and changes nothing.
	before := readFile(t, db)
	if out, want := mustCLI(t, env, "gc", "--grace", "0s", "--dry-run"), "gone "+p.at(0)+" no-holder\n"; out != want {
		t.Errorf("gc --dry-run printed %q, want %q", out, want)
	}
	if !bytes.Equal(before, readFile(t, db)) {
		t.Errorf("gc --dry-run changed the database")
	}
	out := mustCLI(t, env, "gc", "--grace", "0s", "--json")
	var rows []row
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 || rows[0].Slug == nil || *rows[0].Slug != "gone" || rows[0].Reason != "no-holder" || rows[0].State != "stale" {
		t.Errorf("gc --json = %s (%v), want one stale row for gone", out, err)
	}
	rows2 := listJSON(t, env)
	if _, ok := rows2[p.at(0)]; ok {
		t.Errorf("lease of gone still listed after gc: %+v", rows2)
	}
	if r := rows2[p.at(1)]; r.State != "live" {
		t.Errorf("busy = %+v, want live and kept", r)
	}
	if out := mustCLI(t, env, "gc", "--grace", "0s"); out != "" {
		t.Errorf("second gc printed %q, want nothing", out)
	}
}

// TestGraceRunsFromLastSeenLive: a lease renewed more than a grace
// period ago whose bundle gc saw live less than one ago is not stale when
// the bundle goes; once gone for good, it is reclaimed by the third gc
// that finds it vacant at least a grace after the first (contract: Words,
// stale), and not by one before.
func TestGraceRunsFromLastSeenLive(t *testing.T) {
	_, env, p := dockerEnv(t)
	const grace = 10 * time.Second
	g := grace.String()
	wantAlias(t, env, "seen", p.at(0))
	renewed := time.Now() // renewed_at is earlier
	c := start(t, container{name: "seen", alias: p.at(0), port: 18099, slug: "seen"})
	time.Sleep(time.Until(renewed.Add(grace - grace/6)))
	if out := mustCLI(t, env, "gc", "--grace", g); out != "" {
		t.Fatalf("gc with the bundle up printed %q, want nothing", out)
	}
	remove(t, c)
	time.Sleep(time.Until(renewed.Add(grace + grace/12)))
	firstFrom := time.Now() // the first vacant observation is later
	if out := mustCLI(t, env, "gc", "--grace", g); out != "" {
		t.Errorf("gc a grace period after the acquire, right after the bundle went, printed %q; want nothing: gc saw it live under %v ago", out, grace)
	}
	firstBy := time.Now() // and earlier
	// The second and third vacant gc: too soon.
	for _, at := range []time.Duration{grace / 4, grace / 2} {
		time.Sleep(time.Until(firstBy.Add(at)))
		out := mustCLI(t, env, "gc", "--grace", g)
		if took := time.Since(firstFrom); took >= grace {
			t.Fatalf("vacant gcs until %v after the first took %v, more than the grace of %v: nothing to conclude", at, took, grace)
		}
		if out != "" {
			t.Errorf("gc %v after the first vacant one printed %q, want nothing: the first was under a grace ago", at, out)
		}
	}
	time.Sleep(time.Until(firstFrom.Add(grace + grace/12)))
	if out, want := mustCLI(t, env, "gc", "--grace", g), "seen "+p.at(0)+" no-holder\n"; out != want {
		t.Errorf("gc a grace period after the first vacant one printed %q, want %q", out, want)
	}
}

func TestConflictNeverReclaimed(t *testing.T) {
	_, env, p := dockerEnv(t)
	wantAlias(t, env, "a", p.at(0))
	start(t, container{name: "intruder", alias: p.at(0), port: 18085, slug: "b"})
	if r := listJSON(t, env)[p.at(0)]; r.State != "conflict" || r.Reason != "label-mismatch" {
		t.Errorf("list row of %s = %+v, want conflict", p.at(0), r)
	}
	if out := mustCLI(t, env, "gc", "--grace", "0s"); out != "" {
		t.Errorf("gc reclaimed a conflicting lease: %q", out)
	}
	// b has no lease; its container sits on a's alias, which is leased:
	// no adoption, and b gets the next alias.
	wantAlias(t, env, "b", p.at(1))
	wantAlias(t, env, "c", p.at(2))
}

func TestAdoptionAfterLostDatabase(t *testing.T) {
	db, env, p := dockerEnv(t)
	wantAlias(t, env, "x", p.at(0))
	wantAlias(t, env, "adopt-me", p.at(1))
	wantAlias(t, env, "adopt-me-too", p.at(2))
	start(t, container{name: "adopt", alias: p.at(1), port: 18086, slug: "adopt-me"})
	start(t, container{name: "adopt-2", alias: p.at(2), port: 18087, slug: "adopt-me-too", state: "exited"})
	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	wantAlias(t, env, "adopt-me-too", p.at(2))
	wantAlias(t, env, "adopt-me", p.at(1))
	wantAlias(t, env, "newcomer", p.at(0))
	out := mustCLI(t, env, "acquire", "--json", "adopt-me")
	if !strings.Contains(out, `"reason": "renewed"`) {
		t.Errorf("acquire adopt-me again = %s, want a renewal", out)
	}
}

func TestWildcardBindingBlocksNoAlias(t *testing.T) {
	_, env, p := dockerEnv(t)
	start(t, container{name: "wild"}) // 0.0.0.0 and ::, a port the engine picks
	wantAlias(t, env, "a", p.at(0))
}

// TestDockerContext finds the engine through a context in a temporary
// DOCKER_CONFIG, with DOCKER_HOST unset.
func TestDockerContext(t *testing.T) {
	_, env, p := dockerEnv(t)
	start(t, container{name: "ctx-foreign", alias: p.at(0), port: 18089})
	host := strings.TrimPrefix(env[0], "DOCKER_HOST=")
	cfg := writeContext(t, "local-engine", host)
	db := filepath.Join(t.TempDir(), "leases.db")
	env = []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=on", "ALIASLEASE_POOL=" + p.spec(), "DOCKER_CONFIG=" + cfg}
	wantAlias(t, env, "a", p.at(1))
	// DOCKER_CONTEXT names a context that does not exist: bad input, exit
	// 2, under on and under auto alike.
	for _, mode := range []string{"on", "auto"} {
		r := cli(t, append(env, "DOCKER_CONTEXT=nope"), "--docker", mode, "acquire", "b")
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "nope") || !strings.Contains(r.stderr, "DOCKER_CONTEXT") {
			t.Errorf("acquire under --docker %s with a missing context: %v, want exit 2 naming it and DOCKER_CONTEXT", mode, r)
		}
	}
}
