package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/aliaslease/aliaslease/internal/doctor"
	"github.com/aliaslease/aliaslease/lease"
	"github.com/aliaslease/aliaslease/netif"
)

// exitStatus ends the process with a code and no message: run passes on
// its command's status this way.
type exitStatus int

func (e exitStatus) Error() string { return "exit status " + strconv.Itoa(int(e)) }

func opsCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:      "doctor",
			Usage:     "report the health of the database, lock, Docker, pool and interface; exit 1 on a problem",
			UsageText: "aliaslease doctor [--json]\n\nEXAMPLE:\n   aliaslease doctor || echo 'see the hints above'",
			Flags:     []cli.Flag{jsonFlag, graceFlag},
			Action:    doctorCmd,
		},
		{
			Name:      "log",
			Usage:     "show the audit log: acquires, renewals, adoptions, releases, reclaims",
			UsageText: "aliaslease log [-n N] [--slug SLUG] [--json]\n\nEXAMPLE:\n   aliaslease log -n 5 --slug bottle-7",
			Flags: []cli.Flag{
				jsonFlag,
				&cli.IntFlag{Name: "n", Value: 20, Usage: "show the newest `N` events (0: all kept, up to 1,000)"},
				&cli.StringFlag{Name: "slug", Usage: "only the events of `SLUG`"},
			},
			Action: logCmd,
		},
		{
			Name:      "run",
			Usage:     "acquire SLUG, run COMMAND with ALIASLEASE_ALIAS set, release when it ends",
			ArgsUsage: "SLUG -- COMMAND [ARGS...]",
			UsageText: "aliaslease run [--keep] [--wait DURATION] [--no-ifup] SLUG -- COMMAND [ARGS...]\n\n" +
				"EXAMPLE:\n   aliaslease run bottle-7 -- sh -c 'docker compose up --abort-on-container-exit'   # compose reads $ALIASLEASE_ALIAS",
			Flags:  append([]cli.Flag{&cli.BoolFlag{Name: "keep", Usage: "keep the lease when COMMAND ends"}}, acquireFlags...),
			Action: runCmd,
		},
		{
			Name:  "recover",
			Usage: "rebuild a lost or damaged database from labelled containers",
			UsageText: "aliaslease recover --from-docker [--force] [--json]\n\n" +
				"EXAMPLE:\n   aliaslease recover --from-docker --force   # moves a damaged database aside, never deletes it",
			Flags: []cli.Flag{
				jsonFlag,
				&cli.BoolFlag{Name: "from-docker", Usage: "rebuild from the aliaslease.slug labels of containers (the only source)"},
				&cli.BoolFlag{Name: "force", Usage: "move an existing database aside first"},
			},
			Action: recoverCmd,
		},
		{
			Name:      "completion",
			Usage:     "print a shell completion script (bash, zsh or fish)",
			ArgsUsage: "SHELL",
			UsageText: "aliaslease completion bash|zsh|fish\n\nEXAMPLE:\n   source <(aliaslease completion bash)",
			Action:    completionCmd,
		},
		{
			Name:            "__complete",
			Hidden:          true,
			SkipFlagParsing: true,
			Action:          completeCmd,
		},
		{
			Name:            "__gen-docs",
			Hidden:          true,
			SkipFlagParsing: true,
			Action:          genDocsCmd,
		},
	}
}

func doctorCmd(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	m, err := manager(c, false)
	if err != nil {
		return err
	}
	cfg := doctor.Config{
		DBPath: m.Path, Pool: m.Pool, LockTimeout: m.LockTimeout, Grace: m.Grace,
		DockerMode: setting(c, "docker", "ALIASLEASE_DOCKER", "auto"),
		Interface:  netif.System{Stdin: os.Stdin, Stderr: c.App.ErrWriter},
		StuckAfter: 30 * time.Second,
	}
	if inv, ok := m.Inventory.(*dockerInventory); ok {
		cfg.Inventory = inv
	}
	r := doctor.Run(c.Context, cfg)
	if c.Bool("json") {
		if err := writeJSON(c.App.Writer, r); err != nil {
			return err
		}
	} else {
		printReport(c.App.Writer, r)
	}
	if !r.Healthy() {
		return exitStatus(exitFailure)
	}
	return nil
}

func printReport(w io.Writer, r *doctor.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	d := r.Database
	fmt.Fprintf(tw, "database\t%s\n", d.Path)
	if d.Exists {
		fmt.Fprintf(tw, "\tsize %d bytes, schema %d, %d leases, %d audit events\n", d.Size, d.Schema, d.Leases, d.Events)
	}
	fmt.Fprintf(tw, "\tcheck: %s\n", d.Check)
	l := r.Lock
	held := "free"
	if l.Held {
		held = "held"
		if l.PID != 0 {
			held += fmt.Sprintf(" by pid %d (aliaslease %s) since %s", l.PID, l.Command, l.Since.Format(time.RFC3339))
		} else {
			held += " by a process that did not record itself (an operator's flock?)"
		}
	}
	fmt.Fprintf(tw, "lock\t%s: %s\n", l.Path, held)
	dk := r.Docker
	switch {
	case dk.Mode == "off":
		fmt.Fprintf(tw, "docker\toff (--docker off)\n")
	case dk.Reachable:
		fmt.Fprintf(tw, "docker\t%s (from %s): engine %s, API %s\n", dk.Host, dk.Source, dk.Version, dk.APIVersion)
	default:
		fmt.Fprintf(tw, "docker\t%s (from %s): not reachable\n", dk.Host, dk.Source)
	}
	p := r.Pool
	fmt.Fprintf(tw, "pool\t%s: %d aliases, %d leased (%d live, %d pending, %d stale, %d conflict, %d unknown), %d foreign, %d free\n",
		p.Spec, p.Size, p.Leased, p.Live, p.Pending, p.Stale, p.Conflict, p.Unknown, p.Foreign, p.Free)
	up := 0
	for _, a := range r.Interface {
		if a.Up {
			up++
		}
	}
	fmt.Fprintf(tw, "interface\t%d of %d checked pool aliases usable\n", up, len(r.Interface))
	tw.Flush()
	if r.Healthy() {
		fmt.Fprintln(w, "no problems found")
		return
	}
	fmt.Fprintf(w, "%d problem(s):\n", len(r.Problems))
	for _, pr := range r.Problems {
		fmt.Fprintf(w, "- %s: %s\n  hint: %s\n", pr.Kind, pr.Detail, pr.Hint)
	}
}

func logCmd(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	slug := c.String("slug")
	if slug != "" {
		if err := lease.ValidateSlug(slug); err != nil {
			return err
		}
	}
	if c.Int("n") < 0 {
		return usagef("-n must not be negative")
	}
	m, err := manager(c, false)
	if err != nil {
		return err
	}
	var evs []lease.Event
	s, err := lease.Open(m.Path, &lease.Options{ReadOnly: true, LockTimeout: m.LockTimeout})
	switch {
	case errors.Is(err, lease.ErrNoDatabase):
	case err != nil:
		return err
	default:
		evs, err = s.Events(c.Int("n"), slug)
		s.Close()
		if err != nil {
			return err
		}
	}
	if evs == nil {
		evs = []lease.Event{}
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, evs)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tSLUG\tALIAS\tGENERATION\tREASON\tPROCESS")
	for _, e := range evs {
		reason := e.Reason
		if reason == "" {
			reason = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s[%d]\n", e.Time.Local().Format("2006-01-02 15:04:05"), e.Kind, e.Slug, e.Alias, e.Generation, reason, e.Command, e.PID)
	}
	return tw.Flush()
}

// runCmd acquires, runs the command with the alias in its environment,
// forwards signals to it, releases (unless --keep) and exits with its
// status: 128+N when a signal N ended it, 127 when it could not be found.
func runCmd(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) < 2 {
		return usagef("run: SLUG and COMMAND expected: aliaslease run SLUG -- COMMAND [ARGS...]")
	}
	slug := args[0]
	res, m, err := acquireSlug(c, slug)
	if err != nil {
		return err
	}
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		"ALIASLEASE_SLUG="+slug,
		"ALIASLEASE_ALIAS="+res.Lease.Alias.String(),
		"ALIASLEASE_GENERATION="+strconv.FormatUint(res.Lease.Generation, 10))
	status := runForwarding(cmd, c.App.ErrWriter)
	if !c.Bool("keep") {
		if _, err := m.Release(slug, res.Lease.Generation); err != nil && !errors.Is(err, lease.ErrNotFound) && !errors.Is(err, lease.ErrGenerationMismatch) {
			fmt.Fprintf(c.App.ErrWriter, "aliaslease: warning: releasing %s after the command: %v\n", slug, err)
		}
	}
	return exitStatus(status)
}

// forwarded are the signals run passes on to its command. SIGINT from a
// terminal reaches the command directly (same process group), so it is
// forwarded only when there is no terminal, where it came from kill.
var forwarded = []os.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGINT}

func runForwarding(cmd *exec.Cmd, stderr io.Writer) int {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "aliaslease: error: run: %v\n", err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return 127
		}
		return 126
	}
	tty := isTerminal(os.Stdin)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGINT && tty {
					continue
				}
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	if err == nil {
		return 0
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if code := cmd.ProcessState.ExitCode(); code > 0 {
		return code
	}
	return 1
}

func recoverCmd(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if !c.Bool("from-docker") {
		return usagef("recover: --from-docker is required (labelled containers are the only source to rebuild from)")
	}
	if setting(c, "docker", "ALIASLEASE_DOCKER", "auto") == "off" {
		return usagef("recover --from-docker needs Docker, but --docker is off")
	}
	m, err := manager(c, false)
	if err != nil {
		return err
	}
	res, err := m.Recover(c.Context, c.Bool("force"))
	if res.MovedTo != "" {
		fmt.Fprintf(c.App.ErrWriter, "aliaslease: note: moved the existing database to %s\n", res.MovedTo)
	}
	if err != nil {
		return err
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(c.App.ErrWriter, "aliaslease: note: %s\n", s)
	}
	if c.Bool("json") {
		out := make([]object, len(res.Leases))
		for i, l := range res.Leases {
			out[i] = leaseObject(l)
			out[i].Reason = "recovered"
		}
		return writeJSON(c.App.Writer, out)
	}
	for _, l := range res.Leases {
		fmt.Fprintf(c.App.Writer, "%s %s\n", l.Slug, l.Alias)
	}
	return nil
}

func completionCmd(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("completion: one SHELL expected: bash, zsh or fish")
	}
	script, ok := completionScripts[c.Args().First()]
	if !ok {
		return usagef("completion: no script for %q; bash, zsh and fish are supported", c.Args().First())
	}
	_, err := io.WriteString(c.App.Writer, script)
	return err
}

// completeCmd prints the candidates for the last word of a command line
// (the words after "aliaslease"), one a line: commands, flags, flag values,
// and slugs from the database for commands that take one.
func completeCmd(c *cli.Context) error {
	words := c.Args().Slice()
	if len(words) == 0 {
		words = []string{""}
	}
	cur, before := words[len(words)-1], words[:len(words)-1]
	for _, cand := range candidates(c.App, before, cur) {
		if strings.HasPrefix(cand, cur) {
			fmt.Fprintln(c.App.Writer, cand)
		}
	}
	return nil
}

func candidates(app *cli.App, before []string, cur string) []string {
	global := map[string]string{}
	flags, cmds := app.Flags, app.Commands
	var cmd *cli.Command
	var positional int
	prevTakesValue := ""
	for _, w := range before {
		switch {
		case prevTakesValue != "":
			if cmd == nil {
				global[prevTakesValue] = w
			}
			prevTakesValue = ""
		case strings.HasPrefix(w, "-"):
			if takesValue(flags, w) {
				prevTakesValue = strings.TrimLeft(w, "-")
			} else if cmd == nil {
				if k, v, ok := strings.Cut(strings.TrimLeft(w, "-"), "="); ok {
					global[k] = v
				}
			}
		case cmd == nil || len(cmd.Subcommands) > 0:
			if next := findCommand(cmds, w); next != nil {
				cmd, flags, cmds = next, next.Flags, next.Subcommands
			}
		default:
			positional++
		}
	}
	switch {
	case prevTakesValue == "docker":
		return []string{"auto", "on", "off"}
	case prevTakesValue == "slug":
		return slugs(global)
	case prevTakesValue != "":
		return nil
	case strings.HasPrefix(cur, "-"):
		var out []string
		for _, f := range flags {
			for _, n := range f.Names() {
				if len(n) == 1 {
					out = append(out, "-"+n)
				} else {
					out = append(out, "--"+n)
				}
			}
		}
		return out
	case cmd == nil || len(cmd.Subcommands) > 0:
		var out []string
		for _, c := range cmds {
			if !c.Hidden {
				out = append(out, c.Name)
			}
		}
		return out
	case cmd.Name == "completion" && positional == 0:
		return []string{"bash", "fish", "zsh"}
	case (cmd.Name == "acquire" || cmd.Name == "release" || cmd.Name == "run") && positional == 0:
		return slugs(global)
	}
	return nil
}

// slugs lists the slugs in the database named by the global flags or the
// environment, quickly: a short lock timeout, and never Docker.
func slugs(global map[string]string) []string {
	path := global["db"]
	if path == "" {
		path = os.Getenv("ALIASLEASE_DB")
	}
	path, err := dbPath(path)
	if err != nil {
		return nil
	}
	s, err := lease.Open(path, &lease.Options{ReadOnly: true, LockTimeout: 200 * time.Millisecond})
	if err != nil {
		return nil
	}
	defer s.Close()
	ls, _ := s.Leases()
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Slug
	}
	return out
}
