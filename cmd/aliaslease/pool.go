package main

import (
	"fmt"
	"net/netip"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/aliaslease/aliaslease/lease"
	"github.com/aliaslease/aliaslease/netif"
)

func poolStatus(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	pool, err := poolSetting(c)
	if err != nil {
		return err
	}
	st, err := netif.System{Stdin: os.Stdin, Stderr: c.App.ErrWriter}.Status(c.Context, pool)
	if err != nil {
		return fmt.Errorf("%w: %w", lease.ErrInterface, err)
	}
	if c.Bool("json") {
		type row struct {
			Alias  string `json:"alias"`
			Up     bool   `json:"up"`
			Detail string `json:"detail,omitempty"`
		}
		rows := make([]row, len(st))
		for i, s := range st {
			rows[i] = row{s.Alias.String(), s.Up, s.Detail}
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
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Alias, up, s.Detail)
	}
	return tw.Flush()
}

// poolUp brings every missing pool alias up and prints those it added.
func poolUp(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	pool, err := poolSetting(c)
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
	if err := noArgs(c); err != nil {
		return err
	}
	pool, err := poolSetting(c)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(c.App.Writer, launchdPlist(pool))
	return err
}

func launchdPlist(pool lease.Pool) string {
	script := ""
	pool.All(func(a netip.Addr) bool {
		script += fmt.Sprintf("%s lo0 alias %s/32 up; ", netif.Ifconfig, a)
		return true
	})
	return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>dev.aliaslease.pool</string>
	<key>ProgramArguments</key>
	<array>
		<string>/bin/sh</string>
		<string>-c</string>
		<string>` + script + `</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
</dict>
</plist>
`
}
