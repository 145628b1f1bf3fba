// Package doctor builds aliaslease's health report: the database, its
// lock, the Docker endpoint, the pool and the interface, and the problems
// found among them, each with a hint.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aliaslease/aliaslease/lease"
	"github.com/aliaslease/aliaslease/netif"
)

// Config says what to examine.
type Config struct {
	// Manager is the door to the database and the inventory: its path,
	// pool, grace and Docker mode are what is examined.
	Manager   *lease.Manager
	Interface interface {
		Status(context.Context, lease.Pool) ([]netif.AliasStatus, error)
	}
	// StuckAfter is how long a held lock may have been held before it is
	// reported as a problem.
	StuckAfter time.Duration
	// Trees is how run holds process trees here; nil leaves it out.
	Trees *Trees
	// Firewall reads the confinements in force; nil leaves them out.
	Firewall Firewall
}

// Report is the health report. Its JSON form is what doctor --json prints.
type Report struct {
	Database  Database   `json:"database"`
	Lock      Lock       `json:"lock"`
	Docker    Docker     `json:"docker"`
	Pool      Pool       `json:"pool"`
	Interface []Alias    `json:"interface"`
	Problems  []Problem  `json:"problems"`
	Wildcards []Wildcard `json:"wildcard_bindings"`
	// Vacant are the leases observations found vacant, and when each can
	// be stale.
	Vacant []Vacant `json:"vacant"`
	// Isolation says what enforces isolation here, and each lease's.
	Isolation Isolation `json:"isolation"`
	// Warnings are worth knowing but do not make the report unhealthy.
	Warnings []Problem `json:"warnings"`
	// Shared is the shared place of several users' databases.
	Shared Shared `json:"shared"`
	// Trees is how run holds its command's process tree here.
	Trees   *Trees    `json:"process_trees,omitempty"`
	Checked time.Time `json:"checked_at"`
}

// Database is the state of the lease database.
// Counts that could not be read are nil (null in JSON), never zero.
type Database struct {
	Path     string `json:"path"`
	Exists   bool   `json:"exists"`
	Size     int64  `json:"size"`
	Schema   *int   `json:"schema"` // the file's
	Check    string `json:"check"`  // "ok", "not created yet", "not checked: ...", or the error
	Leases   *int   `json:"leases"`
	Events   *int   `json:"audit_events"`
	Writable bool   `json:"writable"` // whether acquire can write the database and its lock
}

// Lock is the state of the lock file.
type Lock struct {
	Path    string     `json:"path"`
	Held    bool       `json:"held"`
	PID     int        `json:"pid,omitempty"`
	Since   *time.Time `json:"since,omitempty"`
	Command string     `json:"command,omitempty"`
	Error   string     `json:"error,omitempty"`
}

// Docker is the state of the Docker endpoint.
type Docker struct {
	Mode       string `json:"mode"`
	Host       string `json:"host,omitempty"`
	Source     string `json:"source,omitempty"`
	Reachable  bool   `json:"reachable"`
	Version    string `json:"engine_version,omitempty"`
	APIVersion string `json:"api_version,omitempty"`
	Error      string `json:"error,omitempty"`
}

// Pool counts the pool's aliases by state.
type Pool struct {
	Spec string `json:"spec"`
	Size int    `json:"size"`
	// Counted is false when the leases could not be read: the counts
	// below are then those of an empty database and mean nothing.
	Counted  bool `json:"counted"`
	Leased   int  `json:"leased"`
	Outside  int  `json:"outside_pool"` // leases on aliases no longer in the pool
	Live     int  `json:"live"`
	Pending  int  `json:"pending"`
	Stale    int  `json:"stale"`
	Conflict int  `json:"conflict"`
	Foreign  int  `json:"foreign"`
	Unknown  int  `json:"unknown"`
	Free     int  `json:"free"`
}

// Alias is one pool alias on the interface.
type Alias struct {
	Alias  string `json:"alias"`
	Up     bool   `json:"up"`
	Detail string `json:"detail,omitempty"`
}

// Wildcard is a container publishing a port on every address.
type Wildcard struct {
	Container string `json:"container"`
	HostIP    string `json:"host_ip"`
	Port      string `json:"port"`
}

// Problem is one thing wrong, with what to do about it.
type Problem struct {
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
	Hint   string `json:"hint"`
}

// Healthy reports whether no problem was found.
func (r *Report) Healthy() bool { return len(r.Problems) == 0 }

func (r *Report) problem(kind, hint, format string, a ...any) {
	r.Problems = append(r.Problems, Problem{Kind: kind, Detail: fmt.Sprintf(format, a...), Hint: hint})
}

// Run examines everything and returns the report. It changes nothing: the
// database is opened read-only under the shared lock, and only when it
// exists.
func Run(ctx context.Context, cfg Config) *Report {
	r := &Report{Checked: time.Now().UTC(), Problems: []Problem{}, Wildcards: []Wildcard{}, Vacant: []Vacant{}, Warnings: []Problem{}}
	r.lock(cfg)
	leases := r.database(ctx, cfg)
	decisions := r.docker(ctx, cfg, leases)
	r.pool(cfg, decisions)
	confined := liveConfined(cfg, decisions)
	r.isolation(decisions, confined)
	r.confinements(ctx, cfg, decisions, confined)
	r.iface(ctx, cfg)
	r.trees(cfg)
	r.shared(ctx, cfg)
	return r
}

func (r *Report) database(ctx context.Context, cfg Config) []lease.Lease {
	d := &r.Database
	d.Path = cfg.Manager.Path
	if r.Lock.Held {
		// Never wait for a held lock: what it guards is not known now.
		d.Check = "not checked: the lock is held (see lock)"
		r.problem("database", "run doctor again when the lock is free; it never waits for it", "database %s not checked: its lock is held", d.Path)
		return nil
	}
	st, err := cfg.Manager.CheckDatabase(ctx)
	d.Exists, d.Size = st.Exists, st.Size
	switch {
	case err == nil && !st.Exists:
		d.Check = "not created yet (the first acquire creates it)"
		zero := 0
		d.Leases, d.Events = &zero, &zero
	case err == nil:
		d.Check = "ok"
		n := len(st.Leases)
		d.Schema, d.Leases, d.Events = &st.Schema, &n, &st.Events
	case errors.Is(err, lease.ErrNotDatabase):
		d.Check = err.Error()
		r.problem("database", "the file is left untouched; it is not an aliaslease database: check --db (or ALIASLEASE_DB)", "%v", err)
	case errors.Is(err, lease.ErrCorrupt):
		d.Check = err.Error()
		r.problem("database", "the file is left untouched; if it is a damaged database, aliaslease recover --from-docker --force moves it aside and rebuilds from labelled containers", "%v", err)
	case errors.Is(err, lease.ErrLocked):
		d.Check = err.Error()
		r.problem("database", "see doctor's lock section", "%v", err)
	default:
		d.Check = err.Error()
		r.problem("database", "check the path and its permissions", "database %s: %v", d.Path, err)
	}
	r.writable(d, st.Exists)
	return st.Leases
}

// writable checks that acquire could write the database and its lock
// file, or create them: a database every acquire fails on is not healthy.
func (r *Report) writable(d *Database, exists bool) {
	paths := []string{d.Path + ".lock"}
	if exists {
		paths = append(paths, d.Path)
	}
	for _, p := range paths {
		if _, err := os.Lstat(p); err != nil {
			continue // created by acquire: its directory is checked below
		}
		if err := syscall.Access(p, mayWrite); err != nil {
			r.problem("database", "fix the owner or mode of the file (every acquire fails on it), or use another --db", "cannot write %s: %v", p, err)
			return
		}
	}
	dir := filepath.Dir(d.Path)
	for {
		if _, err := os.Stat(dir); err == nil || dir == filepath.Dir(dir) {
			break
		}
		dir = filepath.Dir(dir)
	}
	if _, err := os.Lstat(d.Path + ".lock"); err != nil || !exists {
		if err := syscall.Access(dir, mayWrite); err != nil {
			r.problem("database", "fix the owner or mode of the directory, or use another --db", "cannot create the database or its lock file in %s: %v", dir, err)
			return
		}
	}
	d.Writable = true
}

// mayWrite is access(2)'s W_OK.
const mayWrite = 2

func (r *Report) lock(cfg Config) {
	st, err := cfg.Manager.LockStatus()
	r.Lock = Lock{Path: st.Path, Held: st.Held, PID: st.PID, Command: st.Command}
	if err != nil {
		r.Lock.Error = err.Error()
		hint := "remove it; aliaslease creates a regular lock file"
		if st.InDir {
			hint = "fix what the message names: the lock file is in the database's directory"
		}
		r.problem("lock", hint, "%v", err)
		return
	}
	if st.PID != 0 {
		since := st.Since
		r.Lock.Since = &since
	}
	if !st.Held {
		return
	}
	switch {
	case st.PID != 0 && time.Since(st.Since) > cfg.StuckAfter:
		r.problem("lock", fmt.Sprintf("if pid %d is stuck, stop it; allocation waits for it", st.PID),
			"lock %s held by pid %d (aliaslease %s) since %s", st.Path, st.PID, st.Command, st.Since.Format(time.RFC3339))
	case st.PID == 0:
		r.problem("lock", "an operator's 'flock "+st.Path+" COMMAND' pauses allocation until it ends; 'fuser "+st.Path+"' names the holder",
			"lock %s is held by a process that is not a recorded aliaslease", st.Path)
	}
}

// docker reports on the endpoint and returns the verdicts on leases
// (every one Unknown when Docker is off or does not answer).
func (r *Report) docker(ctx context.Context, cfg Config, leases []lease.Lease) []lease.Decision {
	m := cfg.Manager
	r.Docker.Mode = m.Mode.String()
	rv, err := m.Review(ctx, leases)
	eng := rv.Engine
	r.Docker.Host, r.Docker.Source = eng.Host, eng.Source
	r.Docker.Version, r.Docker.APIVersion = eng.Version, eng.APIVersion
	switch {
	case m.Mode == lease.InventoryOff:
		return rv.Decisions
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		r.Docker.Error = err.Error()
		r.problem("docker", "Docker did not answer within --docker-timeout (default 5s): retry, or raise it (aliaslease --docker-timeout 30s doctor); gc cannot reclaim without an answer",
			"%v", err)
		return rv.Decisions
	case err != nil && eng.Version == "":
		r.Docker.Error = err.Error()
		r.problem("docker", unreachableHint(m.Mode, err), "%v", err)
		return rv.Decisions
	case err != nil:
		r.Docker.Error = err.Error()
		r.problem("docker", "the engine answered its version but not the container list; check its log", "%v", err)
		return rv.Decisions
	}
	r.Docker.Reachable = true
	r.wildcards(rv.Snapshot.Holders, m.Pool, leases)
	return rv.Decisions
}

// unreachableHint is the hint for an engine that did not describe itself:
// an endpoint written wrong is bad input, not a stopped engine, and under
// auto with nothing there gc still reclaims, by listeners and process
// holders alone.
func unreachableHint(mode lease.InventoryMode, err error) string {
	switch {
	case errors.Is(err, lease.ErrEndpoint):
		return "fix --docker-host, DOCKER_HOST or DOCKER_CONTEXT (unix:///path or tcp://host:port); until then acquire, list and gc exit 2"
	case errors.Is(err, lease.ErrNoEngine) && mode == lease.InventoryAuto:
		return "start the engine, or fix --docker-host, DOCKER_HOST or DOCKER_CONTEXT if it runs elsewhere; on a host without Docker use --docker off (ALIASLEASE_DOCKER=off); meanwhile gc reclaims by the host's listeners and process holders alone"
	}
	return "is the engine running? check --docker-host, DOCKER_HOST, DOCKER_CONTEXT; gc cannot reclaim without it"
}

// maxInterfaceChecks bounds the per-alias interface check on large pools.
const maxInterfaceChecks = 1024

func (r *Report) iface(ctx context.Context, cfg Config) {
	r.Interface = []Alias{}
	if cfg.Interface == nil {
		return
	}
	pool := cfg.Manager.Pool
	if pool.Len() > maxInterfaceChecks {
		r.problem("interface", "use a smaller --pool for doctor to check every alias", "the pool has %d aliases; only the first %d are checked", pool.Len(), maxInterfaceChecks)
		pool = firstN(pool, maxInterfaceChecks)
	}
	st, err := cfg.Interface.Status(ctx, pool)
	if err != nil {
		r.problem("interface", "aliases cannot be checked on this system", "%v", err)
		return
	}
	down := 0
	for _, s := range st {
		r.Interface = append(r.Interface, Alias{Alias: s.Alias.String(), Up: s.Up, Detail: s.Detail})
		if !s.Up {
			down++
		}
	}
	if down > 0 {
		r.problem("interface", "macOS: aliaslease pool up (one sudo prompt), or install the boot LaunchDaemon (docs/operations.md); Linux: ip link set lo up",
			"%d of %d pool aliases are not usable on the loopback interface", down, len(st))
	}
}

func firstN(p lease.Pool, n int) lease.Pool {
	var items []string
	p.All(func(a netip.Addr) bool {
		items = append(items, a.String())
		return len(items) < n
	})
	q, _ := lease.ParsePool(strings.Join(items, ","))
	return q
}
