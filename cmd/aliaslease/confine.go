package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"github.com/aliaslease/aliaslease/internal/confine"
	"github.com/aliaslease/aliaslease/lease"
	"github.com/urfave/cli/v2"
)

// confineArgs are confine's flags.
type confineArgs struct {
	json    bool   // --json
	cgroup  string // --cgroup
	pid     int    // --pid
	allow   cli.StringSlice
	release bool // --release
}

// confineError is confine's errConfine: the missing part named, and
// nothing confined, moved or left in the firewall (unless partial).
type confineError struct {
	err     error
	partial bool // some of the tree was confined (and stays so), not all; or the message says itself what is left
}

func (e confineError) Error() string {
	if e.partial {
		return e.err.Error()
	}
	return e.err.Error() + "; nothing confined"
}

func (e confineError) Unwrap() []error { return []error{e.err, errConfine} }

func cannotConfine(format string, a ...any) error {
	return confineError{err: fmt.Errorf(format, a...)}
}

// confined is what confine prints of a confinement, as JSON.
type confined struct {
	Slug       string   `json:"slug"`
	Alias      string   `json:"alias"`
	Generation uint64   `json:"generation"`
	Cgroup     string   `json:"cgroup"`
	CgroupID   uint64   `json:"cgroup_id"`
	Allows     []string `json:"allows"`
	Moved      []int    `json:"moved,omitempty"` // --pid: the processes moved into the cgroup
}

func confineCmd(c *cli.Context, args *confineArgs) error {
	slug, err := oneSlug(c)
	if err != nil {
		return err
	}
	if err := lease.ValidateSlug(slug); err != nil {
		return err
	}
	modes := 0
	for _, set := range []bool{c.IsSet("cgroup"), c.IsSet("pid"), args.release} {
		if set {
			modes++
		}
	}
	if modes != 1 {
		return usagef("confine: give one of --cgroup PATH, --pid PID or --release; see aliaslease confine --help")
	}
	var allow []netip.AddrPort
	for _, s := range args.allow.Value() {
		ap, err := confine.ParseAllow(s)
		if err != nil {
			return usagef("--confine-allow: %v", err)
		}
		allow = append(allow, ap)
	}
	if args.release && len(allow) > 0 {
		return usagef("--confine-allow goes with --cgroup or --pid, not --release")
	}
	if c.IsSet("pid") && (args.pid <= 1 || args.pid == os.Getpid()) {
		return usagef("--pid must be a process other than 1 and this one, not %d", args.pid)
	}
	if runtime.GOOS == "linux" && os.Geteuid() != 0 {
		if args.release {
			return confineError{err: errors.New("confine --release needs root: only root can remove the firewall rules (nftables); nothing lifted"), partial: true}
		}
		return cannotConfine("confine needs root: only root can write the firewall rules (nftables) and move processes between cgroups")
	}
	m, err := manager(c)
	if err != nil {
		return err
	}
	if args.release {
		return unconfine(c, m, slug, args.json)
	}
	out, err := confineTree(c.Context, m, slug, args, allow)
	if err != nil {
		return err
	}
	if args.pid > 0 {
		notePID(c.App.ErrWriter, args.pid)
	}
	if args.json {
		return writeJSON(c.App.Writer, out)
	}
	_, err = fmt.Fprintln(c.App.Writer, escape(out.Cgroup))
	return err
}

// notePID says what confine --pid does not cover: the connections pid
// already had, and everything when pid runs as root (which can delete the
// rules and leave the cgroup: isolation.md, What is not enforced).
func notePID(w io.Writer, pid int) {
	say(w, "note", "connections pid %d had open before now are not confined; the ones it opens from now on are", pid)
	if fi, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == 0 {
			say(w, "warning", "pid %d runs as root, which can lift its own confinement (delete the rules, leave the cgroup): confine only unprivileged processes", pid)
		}
	}
}

// confineTree confines what --cgroup or --pid names to slug's lease.
func confineTree(ctx context.Context, m *lease.Manager, slug string, args *confineArgs, allow []netip.AddrPort) (confined, error) {
	l, err := m.Lease(ctx, slug)
	if errors.Is(err, lease.ErrNotFound) {
		return confined{}, cannotConfine("%s has no lease: acquire it first (aliaslease acquire %s)", slug, slug)
	} else if err != nil {
		return confined{}, err
	}
	root, err := confine.Find()
	if err != nil {
		return confined{}, cannotConfine("%v", err)
	}
	h := lease.ProcessHolder{Slug: slug, Generation: l.Generation, Kind: lease.TreeCgroup}
	var g *confine.Group
	if args.pid > 0 {
		g, err = pidGroup(root, &h, args.pid)
	} else {
		g, err = foreignGroup(root, &h, args.cgroup, func(id uint64) string { return confinedBy(ctx, m, id) })
	}
	if err != nil {
		return confined{}, err
	}
	defer g.Close()
	conf, err := hold(ctx, m, g, h, l.Alias, allow)
	if err != nil {
		if args.pid > 0 {
			g.Remove()
		}
		return confined{}, err
	}
	out := confined{Slug: slug, Alias: l.Alias.String(), Generation: l.Generation, Cgroup: g.Path(), CgroupID: g.ID(), Allows: allowsOf(conf)}
	if args.pid > 0 {
		if out.Moved, err = adopt(ctx, m, g, h, args.pid); err != nil {
			return confined{}, err
		}
	}
	return out, nil
}

// pidGroup makes the group of aliaslease's own that pid is to be moved
// into, and names it in h.
func pidGroup(root confine.Root, h *lease.ProcessHolder, pid int) (*confine.Group, error) {
	cur, err := confine.CgroupOf(pid)
	if errors.Is(err, os.ErrNotExist) {
		return nil, usagef("--pid %d: no such process", pid)
	} else if err != nil {
		return nil, cannotConfine("--pid %d: %v", pid, err)
	}
	if root.Holds(cur) {
		return nil, usagef("--pid %d is already in aliaslease's cgroup %s (a run's tree, or confined already)", pid, escape(cur))
	}
	if err := confine.CheckTenant(pid); errors.Is(err, confine.ErrNotBottle) {
		return nil, usageError{msg: "--pid: " + err.Error() + "; nothing confined", hint: "give the pid of a bottle's own process (its VMM, its command), not the engine or the shell confine runs in"}
	}
	if h.Cgroup, err = confine.RunName(h.Slug, h.Generation); err != nil {
		return nil, err
	}
	_, _, h.RunID, _ = confine.ParseRunName(h.Cgroup)
	g, err := root.New(h.Cgroup)
	if err != nil {
		return nil, cannotConfine("%v", err)
	}
	return g, nil
}

// confinedBy is the slug whose lease records the confinement of cgroup
// id, "" when no lease of this database does.
func confinedBy(ctx context.Context, m *lease.Manager, id uint64) string {
	ls, _ := m.Leases(ctx)
	for _, l := range ls {
		for _, p := range l.Processes {
			if p.Confined != nil && p.Confined.CgroupID == id {
				return l.Slug
			}
		}
	}
	return ""
}

// foreignGroup opens the cgroup someone else made that --cgroup names,
// and names it in h; by says which slug confines a cgroup already.
func foreignGroup(root confine.Root, h *lease.ProcessHolder, arg string, by func(id uint64) string) (*confine.Group, error) {
	rel, err := root.CgroupPath(arg)
	if err != nil {
		return nil, usageError{msg: "--cgroup: " + err.Error(), hint: tenantsHint}
	}
	g, err := root.OpenCgroup(rel)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, usagef("--cgroup %s: no such cgroup", escape(arg))
	case errors.Is(err, confine.ErrNoCgroup):
		return nil, usagef("--cgroup: %v", err)
	case err != nil:
		return nil, cannotConfine("--cgroup: %v", err)
	}
	if err := root.CheckTenants(rel); errors.Is(err, confine.ErrNotBottle) {
		g.Close()
		return nil, usageError{msg: "--cgroup: " + err.Error() + "; nothing confined", hint: tenantsHint}
	} else if err != nil {
		g.Close()
		return nil, cannotConfine("--cgroup: %v", err)
	}
	if ok, err := confine.HostFirewall().Present(g.ID()); err != nil || ok {
		g.Close()
		if err != nil {
			return nil, cannotConfine("%v", err)
		}
		if slug := by(g.ID()); slug != "" {
			return nil, usagef("cgroup %s is confined already, to %s; lift that confinement first (aliaslease confine --release %s)", escape(g.Path()), slug, slug)
		}
		return nil, usagef("cgroup %s is confined already, by rules no lease of this database records (another allocator's, or a launcher killed before it recorded them: see aliaslease doctor)", escape(g.Path()))
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		g.Close()
		return nil, err
	}
	h.Cgroup, h.RunID = rel, hex.EncodeToString(id[:])
	return g, nil
}

// tenantsHint is the hint of a --cgroup refused for what it holds.
const tenantsHint = "give a cgroup that holds the bottle's processes alone (a unit's, a container's own); " +
	"a container whose /proc/PID/cgroup names no group of its own cannot be confined by --cgroup: see Launchers in docs/isolation.md"

// hold installs g's rules, in one nftables transaction, and records g as
// a confined holder of the lease; when the record fails, the rules go
// again.
func hold(ctx context.Context, m *lease.Manager, g *confine.Group, h lease.ProcessHolder, alias netip.Addr, allow []netip.AddrPort) (lease.Confinement, error) {
	conf, err := confine.Plan(g.ID(), g.Level(), alias, allow)
	if err != nil {
		return conf, cannotConfine("%v", err)
	}
	rules, err := confine.RulesOf(conf)
	if err != nil {
		return conf, cannotConfine("%v", err)
	}
	if err := ctx.Err(); err != nil {
		return conf, err
	}
	fw := confine.HostFirewall()
	if err := fw.Install(rules); err != nil {
		return conf, cannotConfine("%v", err)
	}
	crashAt("confine-installed")
	h.Confined = &conf
	if err := m.Hold(ctx, h, false, false); err != nil {
		fw.Remove(conf.CgroupID)
		return conf, fmt.Errorf("recording the confinement of %s: %w; nothing confined", h.Slug, err)
	}
	return conf, nil
}

// adopt moves pid and its descendants into g. When pid itself cannot be
// moved, the confinement is undone (record, rules, group): nothing moved.
func adopt(ctx context.Context, m *lease.Manager, g *confine.Group, h lease.ProcessHolder, pid int) ([]int, error) {
	crashAt("confine-recorded")
	undo := func() {
		m.EndRun(context.WithoutCancel(ctx), h.Slug, h.Generation, h.RunID)
		g.Remove() // before the rules: the group gone, they match nothing
		confine.HostFirewall().Remove(g.ID())
	}
	if err := ctx.Err(); err != nil {
		undo() // interrupted: nothing moved after the signal
		return nil, err
	}
	moved, err := g.Adopt(pid)
	if err == nil {
		return moved, nil
	}
	if len(moved) > 0 {
		return moved, confineError{err: fmt.Errorf("pid %d is confined, but not all of its tree: %w", pid, err), partial: true}
	}
	undo()
	return nil, cannotConfine("moving pid %d into %s: %v", pid, g.Path(), err)
}

// unconfine lifts each confinement of slug's lease on purpose: its
// record first (logged), then its rules, so that nothing puts them back.
// The trees stay holders of the lease.
func unconfine(c *cli.Context, m *lease.Manager, slug string, asJSON bool) error {
	l, err := m.Lease(c.Context, slug)
	if errors.Is(err, lease.ErrNotFound) {
		say(c.App.ErrWriter, "note", "%s has no lease; nothing to lift", slug)
		return nil
	} else if err != nil {
		return err
	}
	var out []confined
	for _, p := range l.Processes {
		if p.Confined == nil {
			continue
		}
		h, err := m.Unconfine(c.Context, slug, l.Generation, p.RunID)
		if errors.Is(err, lease.ErrNotFound) {
			continue // lifted meanwhile
		} else if err != nil {
			return err
		}
		if err := confine.HostFirewall().Remove(h.Confined.CgroupID); err != nil {
			return fmt.Errorf("the confinement of %s of %s is lifted from the record, but its rules stay: %w", h, slug, err)
		}
		out = append(out, confined{Slug: slug, Alias: l.Alias.String(), Generation: l.Generation,
			Cgroup: h.Cgroup, CgroupID: h.Confined.CgroupID, Allows: allowsOf(*h.Confined)})
	}
	if len(out) == 0 {
		say(c.App.ErrWriter, "note", "%s is not confined; nothing to lift", slug)
	}
	if asJSON {
		return writeJSON(c.App.Writer, append([]confined{}, out...))
	}
	for _, o := range out {
		fmt.Fprintf(c.App.Writer, "unconfined %s\n", escape(o.Cgroup))
	}
	return nil
}

// allowsOf is what a confinement allows, as list, inspect and confine
// show it: the alias (any port), then each ADDR:PORT (the local
// nameservers on 53, each --confine-allow).
func allowsOf(c lease.Confinement) []string {
	out := []string{c.Alias.String()}
	for _, ap := range c.Allow {
		out = append(out, ap.String())
	}
	return out
}

// confineCommand is "aliaslease confine SLUG".
func confineCommand() *cli.Command {
	var args confineArgs
	return &cli.Command{
		Name:      "confine",
		Usage:     "confine a cgroup or a running process that someone else started to SLUG's alias (Linux, root); --release lifts it",
		ArgsUsage: "SLUG",
		UsageText: "aliaslease confine [--json] (--cgroup PATH | --pid PID) [--confine-allow ADDR:PORT]... SLUG\n" +
			"aliaslease confine --release [--json] SLUG\n\n" +
			"The sockets of the cgroup (--cgroup: one someone else made, such as a systemd unit's; it is\n" +
			"never removed) or of the process and its descendants (--pid: moved into a cgroup of\n" +
			"aliaslease's own) reach, of the host's addresses and bridges, only SLUG's alias, the local\n" +
			"nameservers on port 53 and each --confine-allow. Connections a process had before are\n" +
			"not confined. The cgroup holds the lease: release refuses while it lives, release --force\n" +
			"ends its processes, then removes the rules; gc removes the rules once the cgroup is gone.\n" +
			"Exit 9 when any part is missing (not root, no cgroup v2, no nftables): nothing confined.\n\n" +
			"EXAMPLE:\n   aliaslease confine vm-3 --pid \"$(cat /run/vm-3.pid)\"\n" +
			"   aliaslease confine vm-3 --cgroup /system.slice/vm-3.service",
		Flags: []cli.Flag{
			jsonFlag(&args.json),
			&cli.StringFlag{Name: "cgroup", Destination: &args.cgroup, Usage: "confine the cgroup at `PATH` (/sys/fs/cgroup/... or as /proc/PID/cgroup names it)"},
			&cli.IntFlag{Name: "pid", Destination: &args.pid, Usage: "move the process `PID` and its descendants into a cgroup of aliaslease's own and confine it"},
			&cli.StringSliceFlag{Name: "confine-allow", Destination: &args.allow, Usage: "also allow `ADDR:PORT`, TCP and UDP (repeatable)"},
			&cli.BoolFlag{Name: "release", Destination: &args.release, Usage: "lift SLUG's confinements (logged); the trees keep holding the lease"},
		},
		Action: func(c *cli.Context) error { return confineCmd(c, &args) },
	}
}
