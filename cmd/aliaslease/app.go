package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/aliaslease/aliaslease/internal/dockerinv"
	"github.com/aliaslease/aliaslease/lease"
	"github.com/aliaslease/aliaslease/netif"
)

// usageError is bad input on the command line: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

const exitCodesHelp = `EXIT CODES:
   0  done
   1  unexpected failure
   2  bad input: usage, slug, pool, flag value
   3  pool exhausted
   4  Docker needed and not reachable, or it failed
   5  lock not obtained within --lock-timeout
   6  database unreadable (corrupt, truncated, empty, newer schema); left untouched
   7  the alias could not be brought up on the interface`

func newApp(stdout, stderr io.Writer) *cli.App {
	onUsage := func(_ *cli.Context, err error, _ bool) error { return usageError{err.Error()} }
	app := &cli.App{
		Name:  "aliaslease",
		Usage: "lease each sandbox its own loopback alias",
		Description: "aliaslease keeps slug→alias leases in a locked bbolt file and reconciles them\n" +
			"against the ports Docker publishes, so that concurrent launches never share an\n" +
			"alias and the leases of vanished bottles are reclaimed.\n\n" +
			"   aliaslease acquire my-bottle        # prints 127.0.0.16\n" +
			"   aliaslease release my-bottle\n" +
			"   aliaslease gc                       # from cron\n\n" + exitCodesHelp,
		Version:                version(),
		Writer:                 stdout,
		ErrWriter:              stderr,
		HideHelpCommand:        true,
		OnUsageError:           onUsage,
		ExitErrHandler:         func(*cli.Context, error) {},
		UseShortOptionHandling: false,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Usage: "lease database `PATH` (env ALIASLEASE_DB; default $XDG_STATE_HOME/aliaslease/leases.db or ~/.local/state/aliaslease/leases.db)"},
			&cli.StringFlag{Name: "pool", Usage: "addresses to hand out: `SPEC` of addresses, A-B ranges and CIDRs, comma-separated (env ALIASLEASE_POOL; default " + lease.DefaultPool + ")"},
			&cli.StringFlag{Name: "docker", Usage: "use Docker: `auto|on|off` (env ALIASLEASE_DOCKER; default auto)"},
			&cli.StringFlag{Name: "docker-host", Usage: "Docker daemon `URL` (default: DOCKER_HOST, the current context, then the default socket)"},
			&cli.DurationFlag{Name: "docker-timeout", Value: 5 * time.Second, Usage: "bound on all Docker calls of one command"},
			&cli.DurationFlag{Name: "lock-timeout", Value: lease.DefaultLockTimeout, Usage: "how long to wait for the lock"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().First() == "help" { // "aliaslease help [COMMAND]", as git and docker take it
				if c.NArg() == 1 {
					return cli.ShowAppHelp(c)
				}
				if findCommand(c.App.Commands, c.Args().Get(1)) == nil {
					return usagef("help: no command %q; see aliaslease --help", c.Args().Get(1))
				}
				return cli.ShowCommandHelp(c, c.Args().Get(1))
			}
			if c.Args().Present() {
				return usagef("unknown command %q; see aliaslease --help", c.Args().First())
			}
			return usagef("no command given; see aliaslease --help")
		},
		Commands: []*cli.Command{
			{
				Name:      "acquire",
				Usage:     "give SLUG its alias (the same one again if it has a lease)",
				ArgsUsage: "SLUG",
				UsageText: "aliaslease acquire [--json] [--wait DURATION] [--grace DURATION] [--no-ifup] SLUG\n\n" +
					"EXAMPLE:\n   alias=$(aliaslease acquire bottle-7) && docker run -p \"$alias:8080:8080\" --label aliaslease.slug=bottle-7 ...",
				Flags:  append([]cli.Flag{jsonFlag}, acquireFlags...),
				Action: acquire,
			},
			{
				Name:      "release",
				Usage:     "end SLUG's lease and print the freed alias",
				ArgsUsage: "SLUG",
				UsageText: "aliaslease release [--json] [--generation N] SLUG\n\n" +
					"EXAMPLE:\n   aliaslease release --generation 42 bottle-7   # only if still the lease acquire returned",
				Flags: []cli.Flag{
					jsonFlag,
					&cli.StringFlag{Name: "generation", Usage: "release only if the lease is still generation `N`"},
				},
				Action: release,
			},
			{
				Name:      "list",
				Aliases:   []string{"ls"},
				Usage:     "show every lease and every foreign pool alias with its state",
				UsageText: "aliaslease list [--json | --format TEMPLATE]\n\nEXAMPLE:\n   aliaslease ls --json | jq -r '.[] | select(.state==\"stale\") | .slug'\n   aliaslease ls --format '{{.Slug}}={{.Alias}}'\n   aliaslease ls --format 'table {{.Slug}}\\t{{.State}}'",
				Flags: []cli.Flag{jsonFlag, graceFlag,
					&cli.StringFlag{Name: "format", Usage: "print each row with a Go `TEMPLATE` ({{.Slug}} {{.Alias}} {{.State}} {{.Age}} {{.Holders}} {{.Generation}} {{.AcquiredAt}} {{.RenewedAt}} {{.Reason}}); \"table TEMPLATE\" adds a header, \"json\" is --json"},
				},
				Action: list,
			},
			{
				Name:      "gc",
				Usage:     "reclaim stale leases (for cron); silent when there is nothing to do",
				UsageText: "aliaslease gc [--dry-run] [--json] [--grace DURATION]\n\nEXAMPLE:\n   */10 * * * * aliaslease gc",
				Flags: []cli.Flag{
					jsonFlag, graceFlag,
					&cli.BoolFlag{Name: "dry-run", Usage: "print what would be reclaimed; change nothing"},
				},
				Action: gc,
			},
			{
				Name:  "pool",
				Usage: "show or bring up the pool's aliases on the loopback interface",
				Subcommands: []*cli.Command{
					{
						Name:      "status",
						Usage:     "print each pool alias and whether it is usable on the interface",
						UsageText: "aliaslease pool status [--json]\n\nEXAMPLE:\n   aliaslease pool status",
						Flags:     []cli.Flag{jsonFlag},
						Action:    poolStatus,
					},
					{
						Name:      "up",
						Usage:     "bring every missing pool alias up at once (one sudo prompt on macOS)",
						UsageText: "aliaslease pool up\n\nEXAMPLE:\n   aliaslease pool up   # before a batch of launches, or from a boot script",
						Action:    poolUp,
					},
					{
						Name:      "launchd-plist",
						Usage:     "print a macOS LaunchDaemon that adds the pool at boot",
						UsageText: "aliaslease pool launchd-plist\n\nEXAMPLE:\n   aliaslease pool launchd-plist | sudo tee /Library/LaunchDaemons/dev.aliaslease.pool.plist",
						Action:    poolPlist,
					},
				},
			},
		},
	}
	app.Commands = append(app.Commands, opsCommands()...)
	setUsage(app.Commands, onUsage)
	return app
}

// dockerInventory is the Docker adapter behind lease.Inventory.
type dockerInventory = dockerinv.Inventory

var (
	// acquireFlags are shared by acquire and run.
	acquireFlags = []cli.Flag{
		&cli.DurationFlag{Name: "wait", Usage: "when the pool is exhausted, retry for up to `DURATION`"},
		graceFlag,
		&cli.BoolFlag{Name: "no-ifup", Usage: "record the lease but leave the loopback interface alone"},
	}
	jsonFlag  = &cli.BoolFlag{Name: "json", Usage: "print JSON"}
	graceFlag = &cli.DurationFlag{Name: "grace", Value: lease.DefaultGrace, Usage: "a holderless lease renewed less than `DURATION` ago is pending, not stale"}
)

func setUsage(cmds []*cli.Command, fn cli.OnUsageErrorFunc) {
	for _, c := range cmds {
		c.OnUsageError = fn
		setUsage(c.Subcommands, fn)
		if len(c.Subcommands) > 0 && c.Action == nil {
			name := c.Name
			c.Action = func(c *cli.Context) error {
				if c.Args().Present() {
					return usagef("unknown command %q for %s; see aliaslease %s --help", c.Args().First(), name, name)
				}
				return usagef("%s needs a command; see aliaslease %s --help", name, name)
			}
		}
	}
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// oneSlug returns the command's single SLUG argument.
func oneSlug(c *cli.Context) (string, error) {
	switch c.NArg() {
	case 0:
		return "", usagef("%s: missing SLUG; see aliaslease %s --help", c.Command.Name, c.Command.Name)
	case 1:
		return c.Args().First(), nil
	}
	return "", usagef("%s: one SLUG expected, got %d arguments", c.Command.Name, c.NArg())
}

func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("%s: unexpected argument %q", c.Command.FullName(), c.Args().First())
	}
	return nil
}

// manager builds the lease manager from the global flags. Nothing that
// talks to Docker is built when Docker is off.
func manager(c *cli.Context, ifup bool) (*lease.Manager, error) {
	path, err := dbPath(setting(c, "db", "ALIASLEASE_DB", ""))
	if err != nil {
		return nil, err
	}
	pool, err := poolSetting(c)
	if err != nil {
		return nil, err
	}
	m := &lease.Manager{
		Path:        path,
		Pool:        pool,
		LockTimeout: c.Duration("lock-timeout"),
		Grace:       c.Duration("grace"),
		Command:     c.Command.FullName(),
		Warn: func(err error) {
			fmt.Fprintf(c.App.ErrWriter, "aliaslease: warning: %v\n", err)
		},
	}
	if m.LockTimeout <= 0 {
		return nil, usagef("--lock-timeout must be positive")
	}
	if m.Grace < 0 {
		return nil, usagef("--grace must not be negative")
	}
	switch mode := setting(c, "docker", "ALIASLEASE_DOCKER", "auto"); mode {
	case "off":
		m.Mode = lease.InventoryOff
	case "on", "auto":
		m.Mode = lease.InventoryOn
		if mode == "auto" {
			m.Mode = lease.InventoryAuto
		}
		timeout := c.Duration("docker-timeout")
		if timeout <= 0 {
			return nil, usagef("--docker-timeout must be positive")
		}
		m.Inventory = dockerinv.New(dockerinv.Config{Host: c.String("docker-host"), Timeout: timeout})
	default:
		return nil, usagef("--docker must be auto, on or off, not %q", mode)
	}
	if ifup {
		m.Interface = netif.System{Stdin: os.Stdin, Stderr: c.App.ErrWriter}
	}
	return m, nil
}

// setting returns a global flag's value when it was given, else its
// environment variable when that is not empty, else def. An empty
// variable counts as unset, as it does for DOCKER_HOST.
func setting(c *cli.Context, flag, env, def string) string {
	// Global flags are parsed by the app's own (outermost) command.
	var root *cli.Context
	for _, cc := range c.Lineage() {
		if cc.Command != nil {
			root = cc
		}
	}
	if root != nil && root.IsSet(flag) {
		return root.String(flag)
	}
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

func poolSetting(c *cli.Context) (lease.Pool, error) {
	return lease.ParsePool(setting(c, "pool", "ALIASLEASE_POOL", lease.DefaultPool))
}

// dbPath returns the database path: --db or ALIASLEASE_DB, else
// $XDG_STATE_HOME/aliaslease/leases.db, else ~/.local/state/aliaslease/leases.db.
// A relative XDG_STATE_HOME is ignored, as the XDG spec says.
func dbPath(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if x := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "aliaslease", "leases.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no database path: set --db or ALIASLEASE_DB (%v)", err)
	}
	return filepath.Join(home, ".local", "state", "aliaslease", "leases.db"), nil
}

func acquire(c *cli.Context) error {
	slug, err := oneSlug(c)
	if err != nil {
		return err
	}
	res, _, err := acquireSlug(c, slug)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		j := leaseObject(res.Lease)
		j.Reason = string(res.Outcome)
		return writeJSON(c.App.Writer, j)
	}
	_, err = fmt.Fprintln(c.App.Writer, res.Lease.Alias)
	return err
}

// acquireSlug checks slug and the acquireFlags, and acquires; acquire and
// run share it.
func acquireSlug(c *cli.Context, slug string) (lease.AcquireResult, *lease.Manager, error) {
	if err := lease.ValidateSlug(slug); err != nil {
		return lease.AcquireResult{}, nil, err
	}
	if c.Duration("wait") < 0 {
		return lease.AcquireResult{}, nil, usagef("--wait must not be negative")
	}
	m, err := manager(c, !c.Bool("no-ifup"))
	if err != nil {
		return lease.AcquireResult{}, nil, err
	}
	res, err := m.Acquire(c.Context, slug, c.Duration("wait"))
	return res, m, err
}

func release(c *cli.Context) error {
	slug, err := oneSlug(c)
	if err != nil {
		return err
	}
	if err := lease.ValidateSlug(slug); err != nil {
		return err
	}
	var gen uint64
	if c.IsSet("generation") {
		gen, err = strconv.ParseUint(c.String("generation"), 10, 64)
		if err != nil || gen == 0 {
			return usagef("--generation must be a positive whole number, not %q", c.String("generation"))
		}
	}
	m, err := manager(c, false)
	if err != nil {
		return err
	}
	l, err := m.Release(slug, gen)
	switch {
	case errors.Is(err, lease.ErrNotFound):
		fmt.Fprintf(c.App.ErrWriter, "aliaslease: note: %s has no lease; nothing released\n", slug)
		return nil
	case errors.Is(err, lease.ErrGenerationMismatch):
		fmt.Fprintf(c.App.ErrWriter, "aliaslease: note: %v; nothing released\n", err)
		return nil
	case err != nil:
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, leaseObject(l))
	}
	_, err = fmt.Fprintln(c.App.Writer, l.Alias)
	return err
}

func list(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	format := c.String("format")
	if format == "" {
		format = "table {{.Slug}}\t{{.Alias}}\t{{.State}}\t{{.Age}}\t{{.Holders}}"
	}
	asJSON := c.Bool("json") || format == "json"
	// As with docker's --format, \t and \n typed in a shell stand for a
	// tab and a newline.
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	var tmpl *template.Template
	table := strings.HasPrefix(format, "table ") || format == "table"
	if !asJSON {
		var err error
		if tmpl, err = template.New("format").Option("missingkey=error").Parse(strings.TrimPrefix(strings.TrimPrefix(format, "table"), " ")); err != nil {
			return usagef("--format: %v", err)
		}
	}
	m, err := manager(c, false)
	if err != nil {
		return err
	}
	ds, err := m.List(c.Context)
	if err != nil {
		return err
	}
	if asJSON {
		out := make([]object, len(ds))
		for i, d := range ds {
			out[i] = decisionObject(d, true)
		}
		return writeJSON(c.App.Writer, out)
	}
	var w io.Writer = c.App.Writer
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
		w = tw
		header := map[string]string{}
		for _, f := range []string{"Slug", "Alias", "State", "Age", "Holders", "Generation", "AcquiredAt", "RenewedAt", "Reason"} {
			header[f] = strings.ToUpper(f)
		}
		if err := tmpl.Execute(w, header); err != nil {
			return usagef("--format: %v", err)
		}
		fmt.Fprintln(w)
	}
	now := time.Now()
	for _, d := range ds {
		r := listRow{Slug: d.Lease.Slug, Alias: d.Alias.String(), State: string(d.State), Age: "-", Holders: holderNames(d.Holders),
			Generation: d.Lease.Generation, AcquiredAt: d.Lease.AcquiredAt, RenewedAt: d.Lease.RenewedAt, Reason: d.Reason}
		if r.Slug == "" {
			r.Slug = "-"
		} else {
			r.Age = humanAge(now.Sub(d.Lease.RenewedAt))
		}
		if err := tmpl.Execute(w, r); err != nil {
			return usagef("--format: %v", err)
		}
		fmt.Fprintln(w)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// listRow is what a list --format template sees of each row.
type listRow struct {
	Slug, Alias, State, Age, Holders string
	Generation                       uint64
	AcquiredAt, RenewedAt            time.Time
	Reason                           string
}

func gc(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if setting(c, "docker", "ALIASLEASE_DOCKER", "auto") == "off" {
		return usagef("gc needs Docker, but --docker is off: without it nothing can be known to be stale")
	}
	m, err := manager(c, false)
	if err != nil {
		return err
	}
	ds, err := m.GC(c.Context, c.Bool("dry-run"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		out := make([]object, len(ds))
		for i, d := range ds {
			out[i] = decisionObject(d, false)
		}
		return writeJSON(c.App.Writer, out)
	}
	for _, d := range ds {
		fmt.Fprintf(c.App.Writer, "%s %s %s\n", d.Lease.Slug, d.Alias, d.Reason)
	}
	return nil
}

// object is the JSON shape of a lease, a list row or a gc line.
type object struct {
	Slug       *string    `json:"slug"`
	Alias      string     `json:"alias"`
	State      string     `json:"state,omitempty"`
	Generation uint64     `json:"generation,omitempty"`
	AcquiredAt *time.Time `json:"acquired_at,omitempty"`
	RenewedAt  *time.Time `json:"renewed_at,omitempty"`
	Holders    *[]holder  `json:"holders,omitempty"`
	Reason     string     `json:"reason,omitempty"`
}

type holder struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Slug  string `json:"slug,omitempty"`
	State string `json:"state"`
	Port  string `json:"port,omitempty"`
}

func leaseObject(l lease.Lease) object {
	slug := l.Slug
	acq, ren := l.AcquiredAt.UTC(), l.RenewedAt.UTC()
	return object{Slug: &slug, Alias: l.Alias.String(), Generation: l.Generation, AcquiredAt: &acq, RenewedAt: &ren}
}

func decisionObject(d lease.Decision, withHolders bool) object {
	o := object{Alias: d.Alias.String()}
	if d.Lease.Slug != "" {
		o = leaseObject(d.Lease)
	}
	o.State, o.Reason = string(d.State), d.Reason
	if withHolders {
		hs := make([]holder, len(d.Holders))
		for i, h := range d.Holders {
			hs[i] = holder{ID: h.ID, Name: h.Name, Slug: h.Slug, State: h.State, Port: h.Port}
		}
		o.Holders = &hs
	}
	return o
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func holderNames(hs []lease.Holder) string {
	if len(hs) == 0 {
		return "-"
	}
	names := make([]string, len(hs))
	for i, h := range hs {
		names[i] = h.Name
	}
	return strings.Join(names, ",")
}

func humanAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// normalizeArgs moves a command's flags before its arguments, because
// urfave/cli stops parsing flags at the first argument ("acquire g --json"
// would take --json as a second SLUG). Global flags stay where they are,
// before the command; "--" still ends flags.
func normalizeArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		if takesValue(app.Flags, args[i]) {
			i++
		}
		i++
	}
	if i >= len(args) {
		return args
	}
	cmds := app.Commands
	for i < len(args) {
		cmd := findCommand(cmds, args[i])
		if cmd == nil {
			return args
		}
		i++
		if cmd.SkipFlagParsing {
			return args
		}
		if len(cmd.Subcommands) == 0 {
			return append(append([]string{}, args[:i]...), reorder(cmd.Flags, args[i:])...)
		}
		cmds = cmd.Subcommands
	}
	return args
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func reorder(flags []cli.Flag, rest []string) []string {
	var fl, pos []string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			pos = append(pos, rest[i+1:]...)
			i = len(rest)
		case strings.HasPrefix(a, "-") && a != "-":
			fl = append(fl, a)
			if takesValue(flags, a) && i+1 < len(rest) {
				fl = append(fl, rest[i+1])
				i++
			}
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) == 0 {
		return fl
	}
	return append(append(fl, "--"), pos...)
}

// takesValue reports whether arg is a flag that takes a separate value.
func takesValue(flags []cli.Flag, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}
