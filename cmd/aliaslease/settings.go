package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aliaslease/aliaslease/internal/confine"
	"github.com/aliaslease/aliaslease/internal/dockerinv"
	"github.com/aliaslease/aliaslease/internal/listeners"
	"github.com/aliaslease/aliaslease/lease"
	"github.com/aliaslease/aliaslease/netif"
	"github.com/urfave/cli/v2"
)

// settings are the global flags, each with its environment variable and
// default, parsed and checked once per process.
type settings struct {
	db            string     // --db, ALIASLEASE_DB, else the XDG state path
	pool          lease.Pool // --pool, ALIASLEASE_POOL
	docker        string     // --docker, ALIASLEASE_DOCKER: auto, on or off
	dockerHost    string     // --docker-host; "" lets the adapter resolve it
	dockerTimeout time.Duration
	lockTimeout   time.Duration
}

const settingsKey = "settings"

// globalSettings returns the global settings, parsing them on first use.
// A bad value is a usage error, whichever command asks.
func globalSettings(c *cli.Context) (*settings, error) {
	if st, ok := c.App.Metadata[settingsKey].(*settings); ok {
		return st, nil
	}
	// Global flags are parsed by the app's own (outermost) command.
	root := c
	for _, cc := range c.Lineage() {
		if cc.Command != nil {
			root = cc
		}
	}
	g := globals{root}
	value, source := g.value, g.source
	st := &settings{
		docker:        value("docker", "ALIASLEASE_DOCKER", "auto"),
		dockerHost:    root.String("docker-host"),
		dockerTimeout: root.Duration("docker-timeout"),
		lockTimeout:   root.Duration("lock-timeout"),
	}
	if root.IsSet("db") && root.String("db") == "" {
		return nil, usagef("--db must not be empty; leave it out for the default path")
	}
	var err error
	if st.db, err = dbPath(value("db", "ALIASLEASE_DB", "")); err != nil {
		return nil, err
	}
	if st.pool, err = lease.ParsePool(value("pool", "ALIASLEASE_POOL", lease.DefaultPool)); err != nil {
		if src := source("pool", "ALIASLEASE_POOL"); src == "ALIASLEASE_POOL" {
			err = fmt.Errorf("%w (from %s)", err, src)
		}
		return nil, err
	}
	switch {
	case st.docker != "auto" && st.docker != "on" && st.docker != "off":
		return nil, usagef("%s must be auto, on or off, not %q", source("docker", "ALIASLEASE_DOCKER"), st.docker)
	case st.lockTimeout <= 0:
		return nil, usagef("--lock-timeout must be positive")
	case st.dockerTimeout <= 0 && st.docker != "off":
		return nil, usagef("--docker-timeout must be positive")
	}
	if c.App.Metadata == nil {
		c.App.Metadata = map[string]any{}
	}
	c.App.Metadata[settingsKey] = st
	return st, nil
}

// globals reads a global setting from the app's own command's flags,
// else from the environment.
type globals struct{ root *cli.Context }

// value is flag's value if it was given, else env's if set and not
// empty (as for DOCKER_HOST), else def.
func (g globals) value(flag, env, def string) string {
	if g.root.IsSet(flag) {
		return g.root.String(flag)
	}
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

// source names where a bad value came from: an operator who set it in a
// crontab or unit file never typed the flag.
func (g globals) source(flag, env string) string {
	if !g.root.IsSet(flag) && os.Getenv(env) != "" {
		return env
	}
	return "--" + flag
}

// manager builds the Manager of a command that judges no lease
// (release, log, recover) from the global settings: such a command has
// no --grace, and its Manager's Grace is zero and unread (Release,
// Events and Recover judge nothing). A command that judges leases has a
// --grace of its own and calls judgingManager. Nothing that talks to
// Docker is built when Docker is off.
func manager(c *cli.Context) (*lease.Manager, error) {
	st, err := globalSettings(c)
	if err != nil {
		return nil, err
	}
	warn := func(err error) { say(c.App.ErrWriter, "warning", "%v", err) }
	m := &lease.Manager{
		Path:        st.db,
		Pool:        st.pool,
		LockTimeout: st.lockTimeout,
		Command:     c.Command.FullName(),
		Trees:       &confine.Trees{Warn: warn},
		Warn:        warn,
		Shared:      sharedDir(),
	}
	switch st.docker {
	case "off":
		m.Mode = lease.InventoryOff
	case "on":
		m.Mode = lease.InventoryOn
	case "auto":
		m.Mode = lease.InventoryAuto
	}
	if m.Mode != lease.InventoryOff {
		m.Inventory = dockerinv.New(dockerinv.Config{Host: st.dockerHost, Timeout: st.dockerTimeout})
	}
	return m, nil
}

// judgingManager builds the Manager of a command that judges leases by
// their holders (acquire, run, list, gc, doctor): by the command's own
// --grace, with the host's listeners as holders, and bringing aliases up
// on the interface when ifup is set.
func judgingManager(c *cli.Context, grace time.Duration, ifup bool) (*lease.Manager, error) {
	m, err := manager(c)
	if err != nil {
		return nil, err
	}
	if grace < 0 {
		return nil, usagef("--grace must not be negative")
	}
	m.Grace = grace
	m.Listeners = &listeners.Source{}
	if same, known, _ := listeners.HostNetns(); known && !same {
		m.Warn(errors.New("not in the host's network namespace: the host's listeners are not seen from here, so an alias something on the host is bound on may look free"))
	}
	if ifup {
		m.Interface = netif.System{Stdin: os.Stdin, Stderr: c.App.ErrWriter}
	}
	return m, nil
}

// dbPath returns the database path: --db or ALIASLEASE_DB, else
// $XDG_STATE_HOME/aliaslease/leases.db, else ~/.local/state/aliaslease/leases.db.
// A relative XDG_STATE_HOME is ignored, as the XDG spec says. A path
// that names a directory (DIR/, DIR/.., DIR/.), and a $HOME the default
// cannot be under (unset, relative, missing: a system user's
// /nonexistent, or not a directory), are bad input that names the path
// and --db: nothing is created under a home that is not there.
func dbPath(flag string) (string, error) {
	if flag != "" {
		if b := filepath.Base(flag); b == "." || b == ".." || b == "/" || strings.HasSuffix(flag, "/") {
			return "", usagef("database path %s names a directory, not a file; name the file, such as %s", flag, filepath.Join(flag, "leases.db"))
		}
		return flag, nil
	}
	if x := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "aliaslease", "leases.db"), nil
	}
	home := os.Getenv("HOME")
	def := filepath.Join(home, ".local", "state", "aliaslease", "leases.db")
	fix := "set --db PATH (or ALIASLEASE_DB, or an absolute XDG_STATE_HOME)"
	switch fi, err := os.Stat(home); {
	case home == "":
		return "", usagef("no database path: the default, ~/.local/state/aliaslease/leases.db, needs $HOME, which is not set; %s", fix)
	case !filepath.IsAbs(home):
		return "", usagef("no database path: $HOME %q is not an absolute path, so the default %s would depend on the working directory; %s", home, def, fix)
	case err != nil:
		return "", usagef("no database path: the default %s is under $HOME %s: %v; %s", def, home, errors.Unwrap(err), fix)
	case !fi.IsDir():
		return "", usagef("no database path: the default %s is under $HOME %s, which is not a directory; %s", def, home, fix)
	}
	return def, nil
}
