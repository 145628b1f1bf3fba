package test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

// leases returns the slug→alias map that list prints with Docker off:
// what the database holds, without asking Docker.
func leases(t *testing.T, env []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for alias, r := range listJSON(t, append(slices.Clip(env), "ALIASLEASE_DOCKER=off")) {
		if r.Slug != nil {
			m[*r.Slug] = alias
		}
	}
	return m
}

// promptly bounds the time from an interrupting signal to the end of the
// process: it has nothing to finish but its exit. ALIASLEASE_SIGNAL_BOUND
// (milliseconds) widens it on a machine too busy for it.
var promptly = time.Duration(envInt("ALIASLEASE_SIGNAL_BOUND", 100)) * time.Millisecond

// TestInterrupts: SIGINT and SIGTERM end a command promptly wherever it
// waits (a Docker engine that never answers, the lock, --wait), with
// status 130 or 143; nothing is written after the signal (the database
// is byte-for-byte as before), and run never starts its command.
func TestInterrupts(t *testing.T) {
	type setup struct {
		env   []string
		db    string
		after time.Duration // until the process surely waits
	}
	waits := map[string]func(t *testing.T) setup{
		// An engine that accepts connections and never answers, asked
		// with a Docker timeout far beyond the test.
		"docker": func(t *testing.T) setup {
			db := filepath.Join(t.TempDir(), "leases.db")
			env := []string{"ALIASLEASE_DB=" + db, "DOCKER_HOST=" + newFakeEngine(t, "hang").host}
			mustCLI(t, env, "--docker", "off", "acquire", "old")
			return setup{env: append(env, "ALIASLEASE_DOCKER=auto"), db: db, after: time.Second}
		},
		// An operator's lock on the database, taken in this process.
		"lock": func(t *testing.T) setup {
			db := filepath.Join(t.TempDir(), "leases.db")
			env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off"}
			mustCLI(t, env, "acquire", "old")
			lk := flock.New(db + ".lock")
			if err := lk.Lock(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { lk.Unlock() })
			return setup{env: env, db: db, after: 300 * time.Millisecond}
		},
		// A pool of one, held: acquire --wait retries until its deadline.
		"wait": func(t *testing.T) setup {
			db := filepath.Join(t.TempDir(), "leases.db")
			env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off", "ALIASLEASE_POOL=127.0.0.16"}
			mustCLI(t, env, "acquire", "old")
			return setup{env: env, db: db, after: 1500 * time.Millisecond}
		},
	}
	tests := []struct {
		wait    string
		command string // acquire, release or run
		sig     syscall.Signal
		want    int
	}{
		{"docker", "acquire", syscall.SIGTERM, 143},
		{"docker", "acquire", syscall.SIGINT, 130},
		{"docker", "run", syscall.SIGTERM, 143},
		{"docker", "run", syscall.SIGINT, 130},
		{"lock", "acquire", syscall.SIGINT, 130},
		{"lock", "acquire", syscall.SIGTERM, 143},
		{"lock", "release", syscall.SIGINT, 130},
		{"lock", "run", syscall.SIGTERM, 143},
		{"wait", "acquire", syscall.SIGTERM, 143},
		{"wait", "run", syscall.SIGINT, 130},
	}
	for _, tt := range tests {
		t.Run(tt.wait+"/"+tt.command+"/"+signalName(tt.sig), func(t *testing.T) {
			s := waits[tt.wait](t)
			before := readFile(t, s.db)
			marker := filepath.Join(t.TempDir(), "started")
			args := []string{"--docker-timeout", "60s", "--lock-timeout", "60s"}
			switch tt.command {
			case "acquire":
				args = append(args, "acquire", "--wait", "60s", "s")
			case "release":
				args = append(args, "release", "old")
			case "run":
				args = append(args, "run", "--wait", "60s", "s", "--", "sh", "-c", `touch "$1"`, "sh", marker)
			}
			p := startCLI(t, s.env, args...)
			time.Sleep(s.after)
			if !p.running() {
				t.Fatalf("aliaslease %v did not wait: %v", args, p.res)
			}
			p.signal(t, tt.sig)
			r, took := p.wait(t, 10*time.Second)
			t.Logf("%s during the %s wait: exit %d %v after the signal", signalName(tt.sig), tt.wait, r.code, took)
			if r.code != tt.want || r.stdout != "" {
				t.Errorf("aliaslease %s, %s during the wait: %v, want exit %d and nothing on stdout", strings.Join(args, " "), signalName(tt.sig), r, tt.want)
			}
			if took > promptly {
				t.Errorf("aliaslease %s ended %v after %s, want within %v", tt.command, took, signalName(tt.sig), promptly)
			}
			if !bytes.Equal(before, readFile(t, s.db)) {
				t.Errorf("the database changed after %s: leases now %v", signalName(tt.sig), leases(t, s.env))
			}
			if _, err := os.Stat(marker); !os.IsNotExist(err) {
				t.Errorf("run started its command after %s (%v)", signalName(tt.sig), err)
			}
		})
	}
}

func signalName(sig syscall.Signal) string {
	if sig == syscall.SIGINT {
		return "SIGINT"
	}
	if sig == syscall.SIGTERM {
		return "SIGTERM"
	}
	return sig.String()
}

// TestInterruptList: a signal ends list at once, also while its output
// waits for a reader that stopped reading (a pager left open).
func TestInterruptList(t *testing.T) {
	db := filepath.Join(t.TempDir(), "leases.db")
	env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off"}
	for _, slug := range []string{"a", "b", "c"} {
		mustCLI(t, env, "acquire", slug)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(signalName(sig), func(t *testing.T) {
			// 300 KB of rows into a pipe of 64 KB that is never read.
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			cmd := command(bin, env, "list", "--format", `{{printf "%100000s" .Slug}}`)
			cmd.Stdout = w
			p := startProc(t, cmd)
			w.Close()
			time.Sleep(500 * time.Millisecond)
			if !p.running() {
				t.Fatalf("list did not block on its output: %v", p.res)
			}
			p.signal(t, sig)
			res, took := p.wait(t, 10*time.Second)
			want := 128 + int(sig)
			if res.code != want || took > promptly {
				t.Errorf("list blocked on its output, %s: exit %d after %v (%q), want %d within %v", signalName(sig), res.code, took, res.stderr, want, promptly)
			}
		})
	}
}

// TestInterruptTemplate: a signal ends list at once inside a long
// template, whether the template's loop prints (the rows grow in
// memory) or prints nothing, in a row or in a table's header.
func TestInterruptTemplate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "leases.db")
	env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off"}
	mustCLI(t, env, "acquire", "a")
	for _, format := range []string{`{{range 2000000000}}{{end}}`, `{{range 2000000000}}x{{end}}`, `table {{range 2000000000}}{{end}}{{.Slug}}`} {
		t.Run(format, func(t *testing.T) {
			p := startProc(t, command(bin, env, "list", "--format", format))
			time.Sleep(500 * time.Millisecond)
			if !p.running() {
				t.Fatalf("list --format %q ended before the signal: %v", format, p.res)
			}
			p.signal(t, syscall.SIGTERM)
			res, took := p.wait(t, 10*time.Second)
			if res.code != 143 || took > promptly {
				t.Errorf("list --format %q, SIGTERM: exit %d after %v (%q), want 143 within %v", format, res.code, took, res.stderr, promptly)
			}
		})
	}
}
