package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/aliaslease/aliaslease/lease"
	"github.com/aliaslease/aliaslease/netif"
)

func poolStatus(c *cli.Context, asJSON bool) error {
	pool, err := poolOf(c)
	if err != nil {
		return err
	}
	st, err := netif.System{Stdin: os.Stdin, Stderr: c.App.ErrWriter}.Status(c.Context, pool)
	if err != nil {
		return fmt.Errorf("%w: %w", lease.ErrInterface, err)
	}
	if asJSON {
		type aliasStatus struct {
			Alias  string `json:"alias"`
			Up     bool   `json:"up"`
			Detail string `json:"detail,omitempty"`
		}
		rows := make([]aliasStatus, len(st))
		for i, s := range st {
			rows[i] = aliasStatus{s.Alias.String(), s.Up, s.Detail}
		}
		return writeJSON(c.App.Writer, rows)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ALIAS\tUP\tDETAIL")
	for _, s := range st {
		up := "yes"
		if !s.Up {
			up = "no"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Alias, up, escape(s.Detail))
	}
	return tw.Flush()
}

// poolUp brings every missing pool alias up and prints those it added.
func poolUp(c *cli.Context) error {
	pool, err := poolOf(c)
	if err != nil {
		return err
	}
	added, err := netif.System{Stdin: os.Stdin, Stderr: c.App.ErrWriter}.UpAll(c.Context, pool)
	for _, a := range added {
		fmt.Fprintln(c.App.Writer, a)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", lease.ErrInterface, err)
	}
	return nil
}

// poolPlist prints a LaunchDaemon that adds the pool at every boot, so
// that launches never need a sudo prompt.
func poolPlist(c *cli.Context) error {
	pool, err := poolOf(c)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(c.App.Writer, netif.LaunchdPlist(pool))
	return err
}

// poolCommand is "aliaslease pool status|up|launchd-plist".
func poolCommand() *cli.Command {
	var statusJSON bool // pool status --json
	return &cli.Command{
		Name:  "pool",
		Usage: "show or bring up the pool's aliases on the loopback interface",
		Subcommands: []*cli.Command{
			{
				Name:      "status",
				Usage:     "print each pool alias and whether it is usable on the interface",
				UsageText: "aliaslease pool status [--json]\n\nEXAMPLE:\n   aliaslease pool status",
				Flags:     []cli.Flag{jsonFlag(&statusJSON)},
				Action:    func(c *cli.Context) error { return poolStatus(c, statusJSON) },
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
	}
}

// poolOf checks that a pool command got no arguments and returns the
// global pool.
func poolOf(c *cli.Context) (lease.Pool, error) {
	if err := noArgs(c); err != nil {
		return lease.Pool{}, err
	}
	st, err := globalSettings(c)
	if err != nil {
		return lease.Pool{}, err
	}
	return st.pool, nil
}
