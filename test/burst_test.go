package test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// envString reads a setting of the suite from the environment.
func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// launch is what one launcher of a burst did.
type launch struct {
	slug  string
	r     result // of its acquire
	alias string // printed by a successful acquire
}

// observer collects what the gc and list loops beside a burst print, and
// checks it as it comes: a bottle's alias never moves, no alias ever
// belongs to two bottles, the foreign alias is never leased.
type observer struct {
	t       *testing.T
	foreign map[string]bool // aliases of the foreign containers
	mu      sync.Mutex
	aliasOf map[string]string // bottle slug -> alias seen
	slugOn  map[string]string // alias -> bottle slug seen
	runs    map[string]int    // "gc:0", "list:0", "gc:4", ...
	reclaim []string          // gc output lines
}

func (o *observer) see(who, slug, alias string) {
	if !strings.HasPrefix(slug, "bottle-") {
		return
	}
	if o.foreign[alias] {
		o.t.Errorf("%s: %s leased the foreign alias %s", who, slug, alias)
	}
	if was, ok := o.aliasOf[slug]; ok && was != alias {
		o.t.Errorf("%s: %s on %s, earlier on %s", who, slug, alias, was)
	}
	if was, ok := o.slugOn[alias]; ok && was != slug {
		o.t.Errorf("%s: %s on %s, earlier %s there", who, slug, alias, was)
	}
	o.aliasOf[slug], o.slugOn[alias] = alias, slug
}

func (o *observer) gc(r result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.runs[fmt.Sprintf("gc:%d", r.code)]++
	if r.code != 0 && r.code != 4 {
		o.t.Errorf("gc during the burst: %v", r)
	}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if line == "" {
			continue
		}
		o.reclaim = append(o.reclaim, line)
		if f := strings.Fields(line); len(f) != 3 || !strings.HasPrefix(f[0], "stale-") {
			o.t.Errorf("gc during the burst reclaimed %q; only the stale- leases are stale", line)
		}
	}
}

func (o *observer) list(r result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.runs[fmt.Sprintf("list:%d", r.code)]++
	if r.code != 0 {
		o.t.Errorf("list during the burst: %v", r)
		return
	}
	var rows []row
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		o.t.Errorf("list --json during the burst: %v\n%s", err, r.stdout)
		return
	}
	for _, row := range rows {
		if row.State == "conflict" {
			o.t.Errorf("list during the burst: %+v is a conflict", row)
		}
		if row.Slug != nil {
			o.see("list", *row.Slug, row.Alias)
		}
	}
}

// TestBurstOfLaunches: many launchers at once (ALIASLEASE_BURST, 16),
// each launching bottles one after the other (ALIASLEASE_BURST_ROUNDS,
// 2): acquiring the bottle's alias and starting two labelled containers
// on it, beside unlabelled foreign containers on pool aliases (a running
// one on the lowest, a created one, whose bindings only an inspect
// shows), with gc and list running in loops. No alias is ever held by
// two bottles, no foreign alias is ever handed out, and no acquire
// guesses from the leases alone. With a Docker timeout too short for the
// busy engine (ALIASLEASE_BURST_TIMEOUT, 50ms), the launches that fail
// exit 4, and those that succeed still never share an alias nor take a
// foreign one.
func TestBurstOfLaunches(t *testing.T) {
	dockerEnvVars := needDocker(t)
	img := testImage(t)
	n, rounds := envInt("ALIASLEASE_BURST", 16), envInt("ALIASLEASE_BURST_ROUNDS", 2)
	for _, tt := range []struct {
		name    string
		timeout string // --docker-timeout of the acquires
	}{
		{"default timeout", ""},
		{"short timeout", envString("ALIASLEASE_BURST_TIMEOUT", "50ms")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			size := 8 // the bottles, two foreign aliases, three stale leases
			for size < n*rounds+5 {
				size *= 2
			}
			p := freePool(t, size)
			db := t.TempDir() + "/leases.db"
			env := append(append([]string{}, dockerEnvVars...), "ALIASLEASE_DB="+db, "ALIASLEASE_POOL="+p.spec(), "ALIASLEASE_DOCKER=auto")
			tag := strings.ReplaceAll(tt.name, " ", "-")
			foreign := start(t, container{name: "burst-foreign-" + tag, alias: p.at(0), port: 18100})
			start(t, container{name: "burst-foreign-created-" + tag, alias: p.at(4), port: 18100, state: "created"})

			// Leases of bottles gone an hour ago, for the first gc to
			// reclaim, before the burst.
			gone := &lease.Manager{Path: db, Pool: lease.MustParsePool(p.at(1) + "-" + p.at(3)), Grace: time.Hour,
				Now: func() time.Time { return time.Now().Add(-time.Hour) }}
			for i := range 3 {
				if _, err := gone.Acquire(context.Background(), fmt.Sprintf("stale-%d", i), 0); err != nil {
					t.Fatal(err)
				}
			}

			var (
				mu    sync.Mutex
				names []string
			)
			t.Cleanup(func() {
				mu.Lock()
				defer mu.Unlock()
				if len(names) > 0 {
					exec.Command("docker", append([]string{"rm", "-f"}, names...)...).Run()
				}
			})
			o := &observer{t: t, foreign: map[string]bool{p.at(0): true, p.at(4): true}, aliasOf: map[string]string{}, slugOn: map[string]string{}, runs: map[string]int{}}
			// gc observes the leases of the bottles gone an hour ago vacant
			// three times over a short grace, and the third reclaims them,
			// before the burst (whose gc loop keeps the default grace).
			for i := 0; i < 10 && len(o.reclaim) < 3; i++ {
				if i > 0 {
					time.Sleep(600 * time.Millisecond)
				}
				o.gc(cli(t, env, "gc", "--grace", "1s"))
			}
			ctx, stop := context.WithCancel(context.Background())
			var loops sync.WaitGroup
			for _, loop := range []struct {
				args []string
				see  func(result)
			}{
				{[]string{"gc"}, o.gc},
				{[]string{"list", "--json"}, o.list},
			} {
				loops.Add(1)
				go func() {
					defer loops.Done()
					for ctx.Err() == nil {
						loop.see(cli(t, env, loop.args...))
					}
				}()
			}

			began := time.Now()
			// Each launcher launches its bottles one after the other, so
			// that later acquires meet an engine busy starting the
			// containers of earlier ones.
			launches := make([]launch, n*rounds)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := range rounds {
						l := &launches[i*rounds+k]
						l.slug = fmt.Sprintf("bottle-%02d-%d", i, k)
						args := []string{"acquire", l.slug}
						if tt.timeout != "" {
							args = append([]string{"--docker-timeout", tt.timeout}, args...)
						}
						l.r = cli(t, env, args...)
						if l.r.code != 0 {
							continue
						}
						l.alias = strings.TrimSpace(l.r.stdout)
						for j := range 2 {
							name := fmt.Sprintf("%s-burst-%d-%s-%d", runID, len(tt.timeout), l.slug, j)
							mu.Lock()
							names = append(names, name)
							mu.Unlock()
							ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
							out, err := exec.CommandContext(ctx, "docker", "run", "-d", "--name", name,
								"--label", "aliaslease.test="+runID, "--label", "aliaslease.slug="+l.slug,
								"-p", fmt.Sprintf("%s:%d:8080", l.alias, 18100+j), img).CombinedOutput()
							cancel()
							if err != nil {
								t.Errorf("%s: docker run on %s: %v\n%s", l.slug, l.alias, err, out)
							}
						}
					}
				}()
			}
			wg.Wait()
			took := time.Since(began)
			stop()
			loops.Wait()
			// Once more each, with everything up.
			o.gc(cli(t, env, "gc"))
			o.list(cli(t, env, "list", "--json"))

			// What the launchers were told.
			codes := map[int]int{}
			byAlias := map[string]string{}
			for _, l := range launches {
				codes[l.r.code]++
				if strings.Contains(l.r.stderr, fallbackWarning) {
					t.Errorf("acquire(%q) decided from the leases alone: %v", l.slug, l.r)
				}
				switch {
				case l.r.code == 0:
					if o.foreign[l.alias] {
						t.Errorf("acquire(%q) = %s, a foreign container's alias", l.slug, l.alias)
					}
					if other, dup := byAlias[l.alias]; dup {
						t.Errorf("acquire(%q) = %s, already handed to %s", l.slug, l.alias, other)
					}
					byAlias[l.alias] = l.slug
					o.see("acquire", l.slug, l.alias)
				case l.r.code == 4 && tt.timeout != "" && l.r.stdout == "":
				default:
					t.Errorf("acquire(%q) = %v, want exit 0%s", l.slug, l.r, map[bool]string{true: " or exit 4 with nothing on stdout"}[tt.timeout != ""])
				}
			}

			// The database agrees with them.
			db2 := checkDB(t, db)
			for _, l := range launches {
				if got := db2[l.slug]; got != l.alias {
					t.Errorf("database has %s on %q, its acquire printed %q (exit %d)", l.slug, got, l.alias, l.r.code)
				}
			}

			// So do the containers: every alias carries one bottle's, on
			// the alias its acquire printed.
			out := docker(t, "ps", "-a", "--filter", "label=aliaslease.test="+runID, "--format", `{{.Names}}|{{.Label "aliaslease.slug"}}|{{.Ports}}`)
			onAlias := map[string]map[string]bool{}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				f := strings.Split(line, "|")
				if len(f) != 3 || !strings.HasPrefix(f[1], "bottle-") || !strings.Contains(f[0], fmt.Sprintf("-burst-%d-", len(tt.timeout))) {
					continue
				}
				alias, _, _ := strings.Cut(f[2], ":")
				if alias != db2[f[1]] {
					t.Errorf("container %s of %s publishes on %q, its lease is on %q", f[0], f[1], alias, db2[f[1]])
				}
				if onAlias[alias] == nil {
					onAlias[alias] = map[string]bool{}
				}
				onAlias[alias][f[1]] = true
			}
			for alias, slugs := range onAlias {
				if len(slugs) != 1 {
					t.Errorf("containers of %d bottles on %s: %v", len(slugs), alias, slugs)
				}
			}
			rows := listJSON(t, env)
			if r := rows[p.at(0)]; r.State != "foreign" || len(r.Holders) != 1 || r.Holders[0].Name != foreign {
				t.Errorf("list row of %s = %+v, want foreign, held by %s", p.at(0), r, foreign)
			}
			for _, l := range launches {
				if l.r.code == 0 {
					if r := rows[l.alias]; r.Slug == nil || *r.Slug != l.slug || r.State != "live" || len(r.Holders) != 2 {
						t.Errorf("list row of %s = %+v, want %s, live, its two containers", l.alias, r, l.slug)
					}
				}
			}
			sort.Strings(o.reclaim)
			if want := []string{"stale-0 " + p.at(1) + " no-holder", "stale-1 " + p.at(2) + " no-holder", "stale-2 " + p.at(3) + " no-holder"}; !slices.Equal(o.reclaim, want) {
				t.Errorf("gc reclaimed %q, want %q", o.reclaim, want)
			}
			if r := rows[p.at(4)]; r.State != "foreign" || len(r.Holders) != 1 || r.Holders[0].State != "created" {
				t.Errorf("list row of %s = %+v, want foreign, held by a created container", p.at(4), r)
			}
			t.Logf("%d launchers x %d bottles in %v (acquire --docker-timeout %q): exit codes %v; %d containers; loops beside: %v; gc reclaimed %q",
				n, rounds, took.Round(time.Millisecond), tt.timeout, codes, len(names), o.runs, o.reclaim)
			if tt.timeout == "" && codes[0] != len(launches) {
				t.Errorf("%d of %d launches succeeded, want all", codes[0], len(launches))
			}
		})
	}
}
