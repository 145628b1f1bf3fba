package test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// verifyJSON is what the tests read of verify --json.
type verifyJSON struct {
	Slug     string   `json:"slug"`
	Alias    string   `json:"alias"`
	Verdict  string   `json:"verdict"`
	Leaks    []string `json:"leaks"`
	Canaries []struct {
		Name       string `json:"name"`
		Address    string `json:"address"`
		TCPReached bool   `json:"tcp_reached"`
		UDPReached bool   `json:"udp_reached"`
		Stray      int    `json:"stray"`
	} `json:"canaries"`
	Probe struct {
		ExitCode int      `json:"exit_code"`
		Output   []string `json:"output"`
	} `json:"probe"`
}

// reached names the canaries that received the nonce.
func (v verifyJSON) reached() []string {
	var names []string
	for _, c := range v.Canaries {
		if c.TCPReached || c.UDPReached {
			names = append(names, c.Name)
		}
	}
	return names
}

// verifyEnv is an environment for verify tests: a database of the
// test's own and a pool of 8 loopback addresses no other test uses
// (canaries bind ephemeral ports there, so a shared engine's containers
// do not matter).
func verifyEnv(t *testing.T) []string {
	t.Helper()
	var b [2]byte
	rand.Read(b[:])
	pool := fmt.Sprintf("127.%d.%d.16-127.%d.%d.23", 1+b[0]%254, b[1], 1+b[0]%254, b[1])
	return []string{"ALIASLEASE_DB=" + filepath.Join(t.TempDir(), "leases.db"), "ALIASLEASE_POOL=" + pool, "ALIASLEASE_DOCKER=off"}
}

// verifyRun runs verify --json with args and returns its answer, after
// checking that its exit code is the one its verdict calls for.
func verifyRun(t *testing.T, env []string, args ...string) verifyJSON {
	t.Helper()
	r := cli(t, env, append([]string{"verify", "--json"}, args...)...)
	var v verifyJSON
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("verify %s: %v; not JSON: %v", strings.Join(args, " "), r, err)
	}
	want := 9
	if v.Verdict == "isolated" {
		want = 0
	}
	if r.code != want {
		t.Errorf("verify %s: exit %d for %q, want %d (%v)", strings.Join(args, " "), r.code, v.Verdict, want, r)
	}
	if want == 9 && !strings.Contains(r.stderr, "is not isolated ("+v.Verdict+")") {
		t.Errorf("verify %s: stderr %q, want it to say the bottle is not isolated (%s)", strings.Join(args, " "), r.stderr, v.Verdict)
	}
	t.Logf("verify %s: %s, reached %v, leaks %v, probe %v", strings.Join(args, " "), v.Verdict, v.reached(), v.Leaks, v.Probe.Output)
	return v
}

// listIsolation is list's ISOLATION cell for slug, in the table and in
// the JSON (which must agree).
func listIsolation(t *testing.T, env []string, slug string) string {
	t.Helper()
	var rows []struct {
		Slug      string `json:"slug"`
		Isolation string `json:"isolation"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, env, "list", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	cell := ""
	for _, line := range strings.Split(mustCLI(t, env, "list", "--format", "{{.Slug}} {{.Isolation}}"), "\n") {
		if s, iso, _ := strings.Cut(line, " "); s == slug {
			cell = iso
		}
	}
	for _, r := range rows {
		if r.Slug == slug {
			if r.Isolation != cell {
				t.Errorf("list: %s's isolation %q in JSON, %q in the table", slug, r.Isolation, cell)
			}
			return r.Isolation
		}
	}
	t.Fatalf("list: no row for %s", slug)
	return ""
}

// A plain host process (a lease without confinement, no PREFIX) reaches
// everything: leaky, naming every other canary. list shows the verdict,
// and a new lease of the slug starts unverified.
func TestVerifyUnconfinedIsLeaky(t *testing.T) {
	env := verifyEnv(t)
	mustCLI(t, env, "acquire", "a")
	mustCLI(t, env, "acquire", "b")
	if got := listIsolation(t, env, "a"); got != "unverified" {
		t.Errorf("list before verify: %q, want unverified", got)
	}
	v := verifyRun(t, env, "a")
	if v.Verdict != "leaky" {
		t.Fatalf("verify a = %q, want leaky", v.Verdict)
	}
	for _, want := range []string{"own alias", "next free alias", "alias of b", "127.0.0.1"} {
		if !slices.Contains(v.reached(), want) {
			t.Errorf("verify a reached %v, want %q among them", v.reached(), want)
		}
	}
	if len(v.Leaks) != len(v.reached())-1 {
		t.Errorf("verify a: leaks %v, want every canary reached but its own alias (%v)", v.Leaks, v.reached())
	}
	if r := cli(t, env, "verify", "a"); r.code != 9 || !strings.Contains(r.stdout, "leaky") {
		t.Errorf("verify a (text) = %v, want exit 9 and leaky", r)
	}
	if got := listIsolation(t, env, "a"); got != "leaky" {
		t.Errorf("list after verify: %q, want leaky", got)
	}
	var doc struct {
		Isolation struct {
			Leases []struct{ Slug, Isolation string } `json:"leases"`
		} `json:"isolation"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, env, "doctor", "--json")), &doc); err != nil {
		t.Fatal(err)
	}
	if ls := doc.Isolation.Leases; len(ls) != 2 || ls[0].Slug != "a" || ls[0].Isolation != "leaky" || ls[1].Isolation != "unverified" {
		t.Errorf("doctor --json isolation leases = %+v, want a leaky, b unverified", ls)
	}
	if got := listIsolation(t, env, "b"); got != "unverified" {
		t.Errorf("list: b = %q, want unverified (only a was verified)", got)
	}
	mustCLI(t, env, "acquire", "a") // a renewal: the same lease keeps its verdict
	if got := listIsolation(t, env, "a"); got != "leaky" {
		t.Errorf("list after a renewal: %q, want leaky", got)
	}
	mustCLI(t, env, "release", "a")
	mustCLI(t, env, "acquire", "a")
	if got := listIsolation(t, env, "a"); got != "unverified" {
		t.Errorf("list after a new lease: %q, want unverified", got)
	}
}

// A PREFIX that runs nothing reaches nothing: cut-off.
func TestVerifyPrefixThatRunsNothingIsCutOff(t *testing.T) {
	env := verifyEnv(t)
	mustCLI(t, env, "acquire", "a")
	v := verifyRun(t, env, "a", "--", "true")
	if v.Verdict != "cut-off" || len(v.reached()) != 0 {
		t.Errorf("verify a -- true = %q, reached %v, want cut-off, nothing", v.Verdict, v.reached())
	}
	if got := listIsolation(t, env, "a"); got != "cut-off" {
		t.Errorf("list: %q, want cut-off", got)
	}
	if r := cli(t, env, "verify", "a", "--"); r.code != 2 {
		t.Errorf("verify a -- (no PREFIX) = %v, want exit 2", r)
	}
	if r := cli(t, env, "verify", "nobody"); r.code != 2 || !strings.Contains(r.stderr, "no lease") {
		t.Errorf("verify nobody = %v, want exit 2, no lease", r)
	}
}

// strayThenOwn is a PREFIX that, before the probe, sends every canary a
// probe of another nonce (a host process on the canaries during a
// verify), then runs the probe on the bottle's own alias only. Its
// arguments: the aliaslease binary and the own alias.
const strayThenOwn = `bin=$1; own=$2; shift 2; nonce=$3; shift 3
"$bin" probe --nonce 0123456789abcdef0123456789abcdef "$@" >/dev/null
keep=""; for t in "$@"; do case $t in *:$own:*) keep="$keep $t";; esac; done
exec "$bin" probe --nonce "$nonce" $keep`

// A host process that connects to the canaries during a verify, without
// this run's nonce, does not make the bottle leaky: the canaries count
// it as stray. (It also shows what the docs say: a probe that reaches
// only its own alias on purpose makes verify say isolated.)
func TestVerifyStrayConnectionsDoNotCount(t *testing.T) {
	env := verifyEnv(t)
	mustCLI(t, env, "acquire", "a")
	mustCLI(t, env, "acquire", "b")
	alias := strings.TrimSpace(mustCLI(t, env, "acquire", "a"))
	v := verifyRun(t, env, "a", "--", "sh", "-c", strayThenOwn, "sh", bin, alias)
	if v.Verdict != "isolated" {
		t.Errorf("verify a with stray clients = %q (reached %v), want isolated", v.Verdict, v.reached())
	}
	for _, c := range v.Canaries {
		if c.Name != "own alias" && c.Stray == 0 {
			t.Errorf("canary %s: stray 0, want the other nonce's connections counted as stray", c.Name)
		}
	}
	if got := listIsolation(t, env, "a"); got != "verified" {
		t.Errorf("list: %q, want verified", got)
	}
}
