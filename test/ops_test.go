package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunForwardsSIGTERM: SIGTERM sent to "aliaslease run" reaches the
// command, whose exit status run passes on, and the lease is released.
func TestRunForwardsSIGTERM(t *testing.T) {
	db := filepath.Join(t.TempDir(), "leases.db")
	env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off"}
	// A pipe of this process's own, not StdoutPipe: the runner waits for
	// the process in the background, and Wait would close it under the
	// reads.
	out, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := command(bin, env, "run", "sig", "--", "sh", "-c", `trap 'echo got-term; exit 42' TERM; echo "ready $ALIASLEASE_ALIAS"; while :; do sleep 0.05; done`)
	cmd.Stdout = w
	p := startProc(t, cmd)
	w.Close()
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready 127.0.0.16" {
		t.Fatalf("first line %q, want the command's ready line", lines.Text())
	}
	if list := mustCLI(t, env, "list"); !strings.Contains(list, "sig ") {
		t.Errorf("no lease while the command runs:\n%s", list)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for lines.Scan() {
		rest = append(rest, lines.Text())
	}
	r, killed := p.waitFor(10 * time.Second)
	if killed {
		t.Fatal("run did not end after SIGTERM")
	}
	if r.code != 42 || strings.Join(rest, ",") != "got-term" {
		t.Errorf("run after SIGTERM: %v, output %q; want exit 42 and got-term", r, rest)
	}
	if list := mustCLI(t, env, "list"); strings.Contains(list, "sig ") {
		t.Errorf("the lease outlived run:\n%s", list)
	}
}

// TestRecoverFromDocker rebuilds leases from labelled containers, never
// overwriting a database without --force, and moving one aside with it.
func TestRecoverFromDocker(t *testing.T) {
	db, env, p := dockerEnv(t)
	start(t, container{name: "rec-a", alias: p.at(2), port: 18090, slug: "rec-a"})
	start(t, container{name: "rec-b", alias: p.at(0), port: 18091, slug: "rec-b", state: "exited"})
	start(t, container{name: "rec-b2", alias: p.at(4), port: 18092, slug: "rec-b"})
	start(t, container{name: "rec-x1", alias: p.at(6), port: 18093, slug: "rec-x"})
	start(t, container{name: "rec-y1", alias: p.at(6), port: 18094, slug: "rec-y"})
	start(t, container{name: "rec-none", alias: p.at(8), port: 18095})

	r := cli(t, env, "recover")
	if r.code != 2 || !strings.Contains(r.stderr, "--from-docker is required") {
		t.Errorf("recover without --from-docker: %v, want exit 2", r)
	}
	r = cli(t, env, "recover", "--from-docker")
	if want := "rec-b " + p.at(0) + "\nrec-a " + p.at(2) + "\n"; r.code != 0 || r.stdout != want || !strings.Contains(r.stderr, p.at(6)+": containers of 2 slugs") {
		t.Fatalf("recover --from-docker: %v", r)
	}
	var rows []row
	if err := json.Unmarshal([]byte(mustCLI(t, env, "list", "--json")), &rows); err != nil || len(rows) < 2 {
		t.Fatalf("list after recover: %v %v", rows, err)
	}
	// Renewal of a recovered lease, and a new slug skipping everything held.
	wantAlias(t, env, "rec-a", p.at(2))
	wantAlias(t, env, "fresh", p.at(1))
	if log := mustCLI(t, env, "log", "--slug", "rec-a"); !strings.Contains(log, "recover") {
		t.Errorf("the audit log lacks the recovery:\n%s", log)
	}

	// An existing, readable database is never overwritten without --force.
	before := readFile(t, db)
	r = cli(t, env, "recover", "--from-docker")
	if r.code != 2 || !strings.Contains(r.stderr, "database exists") || !bytes.Equal(before, readFile(t, db)) {
		t.Errorf("recover over a readable database: %v, want exit 2 (an expected refusal) and the file unchanged", r)
	}
	// A damaged one neither: exit 6. (A database cut short; a file that
	// is no database at all is refused even with --force.)
	damaged := before[:3*4096]
	if err := os.WriteFile(db, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	r = cli(t, env, "recover", "--from-docker")
	if r.code != 6 || !strings.Contains(r.stderr, "--force moves it aside") || !bytes.Equal(readFile(t, db), damaged) {
		t.Errorf("recover over a damaged database: %v, want exit 6, a hint at --force, and the file unchanged", r)
	}
	// --force moves it aside, never deleting it, and rebuilds.
	r = cli(t, env, "recover", "--from-docker", "--force")
	aside, _ := filepath.Glob(db + ".aside-*")
	if r.code != 0 || len(aside) != 1 || !bytes.Equal(readFile(t, aside[0]), damaged) || !strings.Contains(r.stdout, "rec-a "+p.at(2)) {
		t.Errorf("recover --force over a damaged database: %v, moved aside %v", r, aside)
	}
	checkDB(t, db)
}

// TestRecoverForceOverReadableDatabase: recover --force over a readable
// database rebuilds what recover built from the same containers: a slug
// whose exited container binds a lower alias than its running one keeps
// the lower, whether or not the old database leased it.
func TestRecoverForceOverReadableDatabase(t *testing.T) {
	_, env, p := dockerEnv(t)
	start(t, container{name: "again-b", alias: p.at(0), port: 18091, slug: "again-b", state: "exited"})
	start(t, container{name: "again-b2", alias: p.at(4), port: 18092, slug: "again-b"})
	want := "again-b " + p.at(0) + "\n"
	if r := cli(t, env, "recover", "--from-docker"); r.code != 0 || r.stdout != want {
		t.Fatalf("recover --from-docker: %v, want %q", r, want)
	}
	for i := range 2 {
		if r := cli(t, env, "recover", "--from-docker", "--force"); r.code != 0 || r.stdout != want {
			t.Errorf("recover --from-docker --force, time %d: %v, want %q as before", i+1, r, want)
		}
	}
	// With a pool that holds none of the labelled containers, none gives
	// a lease (each gets a note, and a warning names the pool), and the
	// readable database's lease is kept, since no holder contradicts it
	// (contract: recover --force merges).
	other := envWith(env, "ALIASLEASE_POOL=127.0.0.16")
	r := cli(t, other, "recover", "--from-docker", "--force")
	if r.code != 0 || r.stdout != want || strings.Count(r.stderr, "publishes outside the pool") < 2 || !strings.Contains(r.stderr, "warning: labelled containers were found but none gave a lease") {
		t.Errorf("recover --from-docker --force with a pool missing the containers: %v, want the lease kept, a note each and a warning", r)
	}
}

// envWith returns env with one more variable, set last so that it wins.
func envWith(env []string, kv string) []string {
	return append(append([]string(nil), env...), kv)
}

type doctorReport struct {
	Database struct{ Check string }
	Docker   struct {
		Reachable bool
		Version   string `json:"engine_version"`
	}
	Pool struct {
		Size, Leased, Live, Pending, Conflict, Foreign, Free int
	}
	Problems []struct{ Kind, Detail, Hint string }
	Warnings []struct{ Kind, Detail, Hint string }
}

// TestDoctor on the real engine finds a binding on every address and a
// conflict, exits 10, and says what to do about each: the binding on
// every address, of an unlabelled container on a port nothing of
// aliaslease uses, once, as a warning.
func TestDoctor(t *testing.T) {
	_, env, p := dockerEnv(t)
	// Healthy first: a lease, its own container.
	wantAlias(t, env, "doc-a", p.at(0))
	start(t, container{name: "doc-a", alias: p.at(0), port: 18096, slug: "doc-a"})
	r := cli(t, env, "doctor")
	if r.code != 0 || !strings.Contains(r.stdout, "no problems found") {
		t.Errorf("doctor, healthy: %v", r)
	}
	// A container publishing on every address, and another slug's
	// container on doc-a's alias.
	wild := start(t, container{name: "doc-wild"})
	start(t, container{name: "doc-intruder", alias: p.at(0), port: 18098, slug: "doc-b"})
	r = cli(t, env, "doctor", "--json")
	var rep doctorReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("doctor --json: %v\n%v", err, r)
	}
	if r.code != 10 || !rep.Docker.Reachable || rep.Database.Check != "ok" || rep.Pool.Size != 16 || rep.Pool.Leased != 1 || rep.Pool.Conflict != 1 {
		t.Errorf("doctor --json: exit %d, %+v", r.code, rep)
	}
	kinds := map[string]string{}
	for _, p := range rep.Problems {
		kinds[p.Kind] = p.Detail + " / " + p.Hint
	}
	var wilds []string
	for _, p := range rep.Warnings {
		if p.Kind == "wildcard" {
			wilds = append(wilds, p.Detail)
		}
	}
	if len(wilds) != 1 || kinds["wildcard"] != "" {
		t.Errorf("doctor: wildcard warnings %q, problem %q; want one warning and no problem", wilds, kinds["wildcard"])
	}
	kinds["wildcard"] = strings.Join(wilds, "")
	if !strings.Contains(kinds["wildcard"], wild) || !strings.Contains(kinds["wildcard"], "on all addresses") {
		t.Errorf("doctor did not report the wildcard binding of %s: %v", wild, kinds)
	}
	if !strings.Contains(kinds["conflict"], "leased to doc-a") || !strings.Contains(kinds["conflict"], "labelled doc-b") || !strings.Contains(kinds["conflict"], "hint") && kinds["conflict"] == "" {
		t.Errorf("doctor did not report the conflict: %v", kinds)
	}
	r = cli(t, env, "doctor")
	if r.code != 10 || !strings.Contains(r.stdout, "problem(s):") || !strings.Contains(r.stdout, "hint: ") {
		t.Errorf("doctor text: %v", r)
	}
}
