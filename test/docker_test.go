package test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dockerEnv is the environment of a CLI run against the real engine, on a
// database of the test's own.
func dockerEnv(t *testing.T) (db string, env []string) {
	t.Helper()
	db = filepath.Join(t.TempDir(), "leases.db")
	return db, []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=on", "DOCKER_HOST=unix:///var/run/docker.sock"}
}

func wantAlias(t *testing.T, env []string, slug, want string, extra ...string) {
	t.Helper()
	args := append([]string{"acquire"}, extra...)
	got := strings.TrimSpace(mustCLI(t, env, append(args, slug)...))
	if got != want {
		t.Errorf("acquire %s = %s, want %s", slug, got, want)
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
	start(t, container{name: "foreign", alias: "127.0.0.16", port: 18080})
	_, env := dockerEnv(t)
	wantAlias(t, env, "a", "127.0.0.17")
	rows := listJSON(t, env)
	if r := rows["127.0.0.16"]; r.State != "foreign" || r.Slug != nil || len(r.Holders) != 1 {
		t.Errorf("list row of 127.0.0.16 = %+v, want foreign with one holder and slug null", r)
	}
	if r := rows["127.0.0.17"]; r.State != "pending" {
		t.Errorf("list row of 127.0.0.17 = %+v, want pending", r)
	}
}

func TestCreatedAndExitedContainersHold(t *testing.T) {
	start(t, container{name: "created", alias: "127.0.0.16", port: 18081, state: "created"})
	start(t, container{name: "exited", alias: "127.0.0.17", port: 18082, state: "exited"})
	_, env := dockerEnv(t)
	wantAlias(t, env, "a", "127.0.0.18")
	rows := listJSON(t, env)
	for alias, state := range map[string]string{"127.0.0.16": "created", "127.0.0.17": "exited"} {
		if r := rows[alias]; r.State != "foreign" || len(r.Holders) != 1 || r.Holders[0].State != state {
			t.Errorf("list row of %s = %+v, want foreign, held by a %s container", alias, r, state)
		}
	}
}

func TestGCReclaimsOnlyAfterGrace(t *testing.T) {
	db, env := dockerEnv(t)
	wantAlias(t, env, "gone", "127.0.0.16")
	wantAlias(t, env, "busy", "127.0.0.17")
	c := start(t, container{name: "gone", alias: "127.0.0.16", port: 18083, slug: "gone"})
	start(t, container{name: "busy", alias: "127.0.0.17", port: 18084, slug: "busy"})

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
	if out := mustCLI(t, env, "gc", "--grace", "0s", "--dry-run"); out != "gone 127.0.0.16 no-holder\n" {
		t.Errorf("gc --dry-run printed %q", out)
	}
	if !bytes.Equal(before, readFile(t, db)) {
		t.Errorf("gc --dry-run changed the database")
	}
	out := mustCLI(t, env, "gc", "--grace", "0s", "--json")
	var rows []row
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 || *rows[0].Slug != "gone" || rows[0].Reason != "no-holder" || rows[0].State != "stale" {
		t.Errorf("gc --json = %s (%v), want one stale row for gone", out, err)
	}
	rows2 := listJSON(t, env)
	if _, ok := rows2["127.0.0.16"]; ok {
		t.Errorf("lease of gone still listed after gc: %+v", rows2)
	}
	if r := rows2["127.0.0.17"]; r.State != "live" {
		t.Errorf("busy = %+v, want live and kept", r)
	}
	if out := mustCLI(t, env, "gc", "--grace", "0s"); out != "" {
		t.Errorf("second gc printed %q, want nothing", out)
	}
}

func TestConflictNeverReclaimed(t *testing.T) {
	_, env := dockerEnv(t)
	wantAlias(t, env, "a", "127.0.0.16")
	start(t, container{name: "intruder", alias: "127.0.0.16", port: 18085, slug: "b"})
	if r := listJSON(t, env)["127.0.0.16"]; r.State != "conflict" || r.Reason != "label-mismatch" {
		t.Errorf("list row of 127.0.0.16 = %+v, want conflict", r)
	}
	if out := mustCLI(t, env, "gc", "--grace", "0s"); out != "" {
		t.Errorf("gc reclaimed a conflicting lease: %q", out)
	}
	// b has no lease; its container sits on a's alias, which is leased:
	// no adoption, and b gets the next alias.
	wantAlias(t, env, "b", "127.0.0.17")
	wantAlias(t, env, "c", "127.0.0.18")
}

func TestAdoptionAfterLostDatabase(t *testing.T) {
	db, env := dockerEnv(t)
	wantAlias(t, env, "x", "127.0.0.16")
	wantAlias(t, env, "adopt-me", "127.0.0.17")
	wantAlias(t, env, "adopt-me-too", "127.0.0.18")
	start(t, container{name: "adopt", alias: "127.0.0.17", port: 18086, slug: "adopt-me"})
	start(t, container{name: "adopt-2", alias: "127.0.0.18", port: 18087, slug: "adopt-me-too", state: "exited"})
	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	wantAlias(t, env, "adopt-me-too", "127.0.0.18")
	wantAlias(t, env, "adopt-me", "127.0.0.17")
	wantAlias(t, env, "newcomer", "127.0.0.16")
	out := mustCLI(t, env, "acquire", "--json", "adopt-me")
	if !strings.Contains(out, `"reason": "renewed"`) {
		t.Errorf("acquire adopt-me again = %s, want a renewal", out)
	}
}

func TestWildcardBindingBlocksNoAlias(t *testing.T) {
	start(t, container{name: "wild", port: 18088})
	_, env := dockerEnv(t)
	wantAlias(t, env, "a", "127.0.0.16")
}

// TestDockerContext finds the engine through a context in a temporary
// DOCKER_CONFIG, with DOCKER_HOST unset.
func TestDockerContext(t *testing.T) {
	start(t, container{name: "ctx-foreign", alias: "127.0.0.16", port: 18089})
	cfg := writeContext(t, "local-engine", "unix:///var/run/docker.sock")
	db := filepath.Join(t.TempDir(), "leases.db")
	env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=on", "DOCKER_CONFIG=" + cfg}
	wantAlias(t, env, "a", "127.0.0.17")
	// DOCKER_CONTEXT names a context that does not exist: exit 4 under on.
	r := cli(t, append(env, "DOCKER_CONTEXT=nope"), "acquire", "b")
	if r.code != 4 || !strings.Contains(r.stderr, `docker context "nope"`) {
		t.Errorf("acquire with a missing context: %v, want exit 4 naming it", r)
	}
}
