package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fallbackWarning = "deciding from the leases and the host's listeners alone"

// TestNoEngineThere: when nothing is there to ask (no socket file, or one
// nobody listens on), acquire under auto decides from the leases alone
// with a warning; under on it exits 4 and leases nothing.
func TestNoEngineThere(t *testing.T) {
	for _, tt := range []struct {
		name, mode string
		host       func(t *testing.T) string
		want       int
	}{
		{"missing socket/auto", "auto", func(*testing.T) string { return "unix:///nonexistent/path.sock" }, 0},
		{"missing socket/on", "on", func(*testing.T) string { return "unix:///nonexistent/path.sock" }, 4},
		{"refused/auto", "auto", func(t *testing.T) string { return newFakeEngine(t, "refused").host }, 0},
		{"refused/on", "on", func(t *testing.T) string { return newFakeEngine(t, "refused").host }, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "leases.db")
			env := []string{"ALIASLEASE_DB=" + db}
			r := cli(t, env, "--docker", tt.mode, "--docker-host", tt.host(t), "acquire", "s")
			got := leases(t, env)
			switch tt.want {
			case 0:
				if r.code != 0 || r.stdout != "127.0.0.16\n" || !strings.Contains(r.stderr, fallbackWarning) {
					t.Errorf("acquire(%q) under %s: %v, want 127.0.0.16 and a warning %q", "s", tt.mode, r, fallbackWarning)
				}
				if got["s"] != "127.0.0.16" {
					t.Errorf("leases after acquire = %v, want s on 127.0.0.16", got)
				}
			default:
				if r.code != tt.want || r.stdout != "" || strings.Contains(r.stderr, fallbackWarning) {
					t.Errorf("acquire(%q) under %s: %v, want exit %d and nothing on stdout", "s", tt.mode, r, tt.want)
				}
				if len(got) != 0 {
					t.Errorf("leases after a failed acquire = %v, want none", got)
				}
			}
		})
	}
}

// TestUnusableEndpoint: an endpoint that cannot be used as written is bad
// input under auto and on (exit 2, nothing on stdout, the source named,
// nothing leased, nothing created); off never resolves it.
func TestUnusableEndpoint(t *testing.T) {
	for _, tt := range []struct {
		name   string
		args   []string // global flags
		env    []string
		source string // named in the error
	}{
		{"flag not a URL", []string{"--docker-host", "garbage"}, nil, "--docker-host"},
		{"DOCKER_HOST not a URL", nil, []string{"DOCKER_HOST=garbage"}, "DOCKER_HOST"},
		{"missing context", nil, []string{"DOCKER_CONTEXT=nosuch"}, "DOCKER_CONTEXT"},
		{"ssh", []string{"--docker-host", "ssh://user@example.invalid"}, nil, "--docker-host"},
		{"npipe", nil, []string{"DOCKER_HOST=npipe:////./pipe/docker_engine"}, "DOCKER_HOST"},
	} {
		for _, mode := range []string{"auto", "on", "off"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				dir := t.TempDir()
				db := filepath.Join(dir, "state", "leases.db")
				// DOCKER_HOST unset unless the case sets it; an empty
				// DOCKER_CONFIG, so no context of the machine's is used.
				env := append([]string{"ALIASLEASE_DB=" + db, "DOCKER_CONFIG=" + t.TempDir()}, tt.env...)
				args := append(append([]string{"--docker", mode}, tt.args...), "acquire", "s")
				r := cli(t, env, args...)
				if mode == "off" {
					if r.code != 0 || r.stdout != "127.0.0.16\n" {
						t.Errorf("aliaslease %s: %v, want 127.0.0.16: off never resolves the endpoint", strings.Join(args, " "), r)
					}
					return
				}
				if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, tt.source) || strings.Count(r.stderr, "aliaslease: error:") != 1 {
					t.Errorf("aliaslease %s: %v, want exit 2, one error naming %s, nothing on stdout", strings.Join(args, " "), r, tt.source)
				}
				// Bad input changes nothing on disk: a database already
				// there stays as it was.
				os.RemoveAll(filepath.Dir(db))
				mustCLI(t, append(env, "ALIASLEASE_DOCKER=off"), "acquire", "old")
				before := readFile(t, db)
				if r := cli(t, env, args...); r.code != 2 {
					t.Errorf("aliaslease %s beside a database: %v, want exit 2", strings.Join(args, " "), r)
				}
				if got := string(readFile(t, db)); got != string(before) {
					t.Errorf("aliaslease %s changed the database", strings.Join(args, " "))
				}
			})
		}
	}
}

// TestShortDockerTimeout: a Docker timeout far too short for the engine
// (1ms) while a foreign container sits on the lowest pool alias: acquire
// under auto exits 4 and leases nothing, never guessing, which would hand
// out exactly the alias the container holds. (An idle engine sometimes
// answers within 1ms; such an acquire must skip the foreign alias.)
func TestShortDockerTimeout(t *testing.T) {
	_, env, p := dockerEnv(t)
	start(t, container{name: "short-foreign", alias: p.at(0), port: 18110})
	env = append(env, "ALIASLEASE_DOCKER=auto")
	codes := map[int]int{}
	for _, slug := range []string{"s", "t", "u", "v", "w", "x"} {
		r := cli(t, env, "--docker-timeout", "1ms", "acquire", slug)
		codes[r.code]++
		got := leases(t, env)
		switch {
		case strings.Contains(r.stderr, fallbackWarning):
			t.Errorf("acquire(%q) with --docker-timeout 1ms decided from the leases alone: %v", slug, r)
		case r.code == 4:
			if r.stdout != "" || !strings.Contains(r.stderr, "--docker-timeout") {
				t.Errorf("acquire(%q) with --docker-timeout 1ms: %v, want nothing on stdout and a hint at --docker-timeout", slug, r)
			}
			if a, ok := got[slug]; ok {
				t.Errorf("acquire(%q) exited 4, yet %s is leased to it", slug, a)
			}
		case r.code == 0:
			if a := strings.TrimSpace(r.stdout); a == p.at(0) || got[slug] != a {
				t.Errorf("acquire(%q) with --docker-timeout 1ms = %s, leases %v; want an alias other than the foreign %s", slug, a, got, p.at(0))
			}
			mustCLI(t, env, "release", slug)
		default:
			t.Errorf("acquire(%q) with --docker-timeout 1ms: %v, want exit 4", slug, r)
		}
	}
	t.Logf("acquire with --docker-timeout 1ms: exit codes %v", codes)
	if codes[4] == 0 {
		t.Errorf("no acquire with --docker-timeout 1ms timed out (exit codes %v): the test tested nothing", codes)
	}
	// With time enough, the foreign alias is skipped.
	wantAlias(t, env, "s", p.at(1))
}

// TestUnusableEndpointCreatesNothing: bad input changes nothing on disk,
// so an acquire refused for its endpoint creates no database.
func TestUnusableEndpointCreatesNothing(t *testing.T) {
	for _, mode := range []string{"auto", "on"} {
		t.Run(mode, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "state", "leases.db")
			r := cli(t, []string{"ALIASLEASE_DB=" + db}, "--docker", mode, "--docker-host", "garbage", "acquire", "s")
			if r.code != 2 {
				t.Fatalf("acquire with --docker-host garbage: %v, want exit 2", r)
			}
			for _, p := range []string{db, filepath.Dir(db)} {
				if _, err := os.Lstat(p); !os.IsNotExist(err) {
					t.Errorf("acquire refused for bad input created %s (%v)", p, err)
				}
			}
		})
	}
}
