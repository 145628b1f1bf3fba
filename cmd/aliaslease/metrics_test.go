package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aliaslease/aliaslease/lease"
)

// family is one metric family of a parsed exposition.
type family struct {
	help, typ string
	samples   map[string]float64 // by label set as written, "" for none
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^{}]*\})? (\S+)$`)
	labelPair  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"$`)
	metricType = map[string]bool{"counter": true, "gauge": true, "histogram": true, "summary": true, "untyped": true}
)

// parseExposition parses the Prometheus text format strictly: every
// family has exactly one HELP and one TYPE line, both before its samples;
// every sample belongs to a declared family, written in one block; no
// series appears twice; the text ends with a newline.
func parseExposition(text string) (map[string]*family, error) {
	if text == "" || !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("empty or no final newline")
	}
	fams := map[string]*family{}
	current := ""
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if err := parseLine(fams, &current, line); err != nil {
			return nil, fmt.Errorf("line %d %q: %w", i+1, line, err)
		}
	}
	for name, f := range fams {
		if f.help == "" || f.typ == "" || len(f.samples) == 0 {
			return nil, fmt.Errorf("family %s lacks HELP, TYPE or samples", name)
		}
	}
	return fams, nil
}

// parseLine parses one line into fams; current is the family declared
// last, the only one whose samples may follow.
func parseLine(fams map[string]*family, current *string, line string) error {
	if kind, rest, ok := strings.Cut(strings.TrimPrefix(line, "# "), " "); strings.HasPrefix(line, "# ") && ok && (kind == "HELP" || kind == "TYPE") {
		name, val, _ := strings.Cut(rest, " ")
		if !metricName.MatchString(name) || val == "" {
			return fmt.Errorf("bad %s line", kind)
		}
		f := fams[name]
		if f == nil {
			f = &family{samples: map[string]float64{}}
			fams[name], *current = f, name
		}
		switch {
		case name != *current || len(f.samples) > 0:
			return fmt.Errorf("%s after the family's samples or another family", kind)
		case kind == "HELP" && f.help != "", kind == "TYPE" && f.typ != "":
			return fmt.Errorf("second %s", kind)
		case kind == "TYPE" && !metricType[val]:
			return fmt.Errorf("unknown type %q", val)
		case kind == "HELP":
			f.help = val
		default:
			f.typ = val
		}
		return nil
	}
	m := sampleLine.FindStringSubmatch(line)
	if m == nil {
		return fmt.Errorf("not a HELP, TYPE or sample line")
	}
	f := fams[m[1]]
	if f == nil || m[1] != *current || f.typ == "" {
		return fmt.Errorf("sample of %s outside its declared family", m[1])
	}
	labels := strings.TrimSuffix(strings.TrimPrefix(m[2], "{"), "}")
	if labels != "" {
		for _, p := range strings.Split(labels, ",") {
			if !labelPair.MatchString(p) {
				return fmt.Errorf("bad label %q", p)
			}
		}
	}
	if _, dup := f.samples[labels]; dup {
		return fmt.Errorf("series %s{%s} twice", m[1], labels)
	}
	v, err := strconv.ParseFloat(m[3], 64)
	if err != nil {
		return err
	}
	f.samples[labels] = v
	return nil
}

func TestParseExpositionRejects(t *testing.T) {
	good := "# HELP a A.\n# TYPE a gauge\na 1\n"
	if _, err := parseExposition(good); err != nil {
		t.Fatalf("parseExposition(good) = %v", err)
	}
	for _, bad := range []string{
		"",
		"# HELP a A.\n# TYPE a gauge\na 1", // no final newline
		"# TYPE a gauge\na 1\n",            // no HELP
		"# HELP a A.\na 1\n",               // no TYPE
		"# HELP a A.\n# TYPE a gauge\na 1\na 2\n",                   // one series twice
		"# HELP a A.\n# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n", // labelled series twice
		"# HELP a A.\n# TYPE a gauge\nb 1\n",                        // undeclared family
		"# HELP a A.\n# TYPE a gauge\na 1\n# HELP a A.\n",           // HELP after samples
		"# HELP a A.\n# TYPE a gage\na 1\n",                         // unknown type
		"# HELP a A.\n# TYPE a gauge\na one\n",                      // bad value
		"# HELP a A.\n# TYPE a gauge\na{x=1} 1\n",                   // unquoted label
		"# HELP 1a A.\n# TYPE 1a gauge\n1a 1\n",                     // bad name
		"# HELP a A.\n# TYPE a gauge\n",                             // no sample
	} {
		if _, err := parseExposition(bad); err == nil {
			t.Errorf("parseExposition(%q) = nil, want an error", bad)
		}
	}
}

func FuzzParseExposition(f *testing.F) {
	var b bytes.Buffer
	writeMetrics(&b, countPool(lease.Pool{}, nil))
	f.Add(b.String())
	f.Add("# HELP a A.\n# TYPE a gauge\na{x=\"\\\"\"} 1\n")
	f.Fuzz(func(t *testing.T, text string) {
		fams, err := parseExposition(text)
		if err != nil {
			return
		}
		for name, fam := range fams {
			if !metricName.MatchString(name) || fam.typ == "" || len(fam.samples) == 0 {
				t.Fatalf("parseExposition(%q) accepted family %s = %+v", text, name, fam)
			}
		}
	})
}

func TestCountPool(t *testing.T) {
	pool, err := lease.ParsePool("127.0.0.16-127.0.0.23")
	if err != nil {
		t.Fatal(err)
	}
	d := func(slug string, s lease.State) lease.Decision {
		return lease.Decision{Lease: lease.Lease{Slug: slug}, Alias: netip.MustParseAddr("127.0.0.16"), State: s}
	}
	ds := []lease.Decision{d("a", lease.Live), d("b", lease.Live), d("c", lease.Stale), d("e", lease.Pending),
		d("f", lease.Conflict), d("", lease.Foreign), d("", lease.Foreign)}
	got := countPool(pool, ds)
	want := map[lease.State]int{lease.Live: 2, lease.Stale: 1, lease.Pending: 1, lease.Conflict: 1, lease.Unknown: 0}
	if got.size != 8 || got.leased != 5 || got.foreign != 2 || got.isolation["unverified"] != 5 || got.isolation["confined"] != 0 {
		t.Errorf("countPool = %+v, want size 8, 5 leased, 2 foreign, 5 unverified", got)
	}
	ds[0].Lease.Isolation.Verdict, ds[1].Lease.Isolation.Verdict, ds[2].Lease.Isolation.Verdict = lease.VerdictIsolated, lease.VerdictLeaky, lease.VerdictLeaky
	wantIso := map[string]int{"confined": 0, "verified": 1, "leaky": 2, "cut-off": 0, "unverified": 2}
	if iso := countPool(pool, ds).isolation; !maps.Equal(iso, wantIso) {
		t.Errorf("countPool with verdicts: isolation = %v, want %v", iso, wantIso)
	}
	for s, n := range want {
		if got.states[s] != n {
			t.Errorf("countPool: %s = %d, want %d", s, got.states[s], n)
		}
	}
}

// TestMetricsTextfile acquires leases, writes the textfile and parses it
// back strictly.
func TestMetricsTextfile(t *testing.T) {
	dir := t.TempDir()
	db, prom := filepath.Join(dir, "leases.db"), filepath.Join(dir, "aliaslease.prom")
	run := func(args ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		argv := append([]string{"aliaslease", "--db", db, "--docker", "off", "--pool", "127.0.0.16-127.0.0.19"}, args...)
		if err := newApp(&out, &errb).RunContext(context.Background(), argv); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errb.String())
		}
	}
	run("acquire", "--no-ifup", "metrics-a")
	run("acquire", "--no-ifup", "metrics-b")
	// A previous file, as the last run left it, is replaced whole (a new
	// inode: renamed over, never rewritten in place), readable by others.
	if err := os.WriteFile(prom, []byte("stale\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(prom)
	run("metrics", "--textfile", prom)
	data, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(prom)
	if os.SameFile(before, after) || after.Mode().Perm() != 0o644 {
		t.Errorf("textfile: same file %v, mode %v; want a new file renamed over the old, 0644", os.SameFile(before, after), after.Mode().Perm())
	}
	fams, err := parseExposition(string(data))
	if err != nil {
		t.Fatalf("parseExposition(textfile) = %v\n%s", err, data)
	}
	fi, _ := os.Stat(db)
	for _, c := range []struct {
		name, labels string
		want         float64
	}{
		{"aliaslease_pool_aliases", "", 4},
		{"aliaslease_leases", "", 2},
		{"aliaslease_leases_by_state", `state="unknown"`, 2}, // --docker off: not asked
		{"aliaslease_leases_by_state", `state="live"`, 0},
		{"aliaslease_foreign_aliases", "", 0},
		{"aliaslease_leases_by_isolation", `isolation="unverified"`, 2},
		{"aliaslease_leases_by_isolation", `isolation="cut-off"`, 0},
		{"aliaslease_database_bytes", "", float64(fi.Size())},
	} {
		f := fams[c.name]
		if f == nil {
			t.Errorf("textfile lacks %s", c.name)
			continue
		}
		if got, ok := f.samples[c.labels]; !ok || got != c.want {
			t.Errorf("%s{%s} = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".aliaslease.prom.tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
