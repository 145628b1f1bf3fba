package main

import (
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/aliaslease/aliaslease/lease"
	"github.com/urfave/cli/v2"
)

// shareArgs are share's flags.
type shareArgs struct {
	group      string // --group
	bootConfig string // --boot-config
}

// sharedDir is the shared place: ALIASLEASE_SHARED_DIR when it is an
// absolute path (for tests, which must not touch /run), else the default.
func sharedDir() string {
	if d := os.Getenv("ALIASLEASE_SHARED_DIR"); filepath.IsAbs(d) {
		return filepath.Clean(d)
	}
	return lease.DefaultSharedDir
}

// defaultBootConfig is where share writes the system's configuration that
// makes the place again at boot (/run is emptied then).
func defaultBootConfig() string {
	if runtime.GOOS == "darwin" {
		return "/Library/LaunchDaemons/org.aliaslease.share.plist"
	}
	return "/etc/tmpfiles.d/aliaslease.conf"
}

func share(c *cli.Context, args *shareArgs) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if args.group == "" {
		return usagef("share needs --group GROUP, the group whose members share the pool")
	}
	g, err := user.LookupGroup(args.group)
	if err != nil {
		return usagef("--group %q: %v", args.group, err)
	}
	gid, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil || gid == 0 {
		return usagef("--group %q: gid %q cannot be shared (root's group, or not a number)", args.group, g.Gid)
	}
	if os.Geteuid() != 0 {
		return errors.New("share makes a directory owned by root: run it as root (sudo aliaslease share --group " + args.group + ")")
	}
	dir := sharedDir()
	made, err := lease.MakeShared(dir, uint32(gid))
	if err != nil {
		return err
	}
	conf := args.bootConfig
	if conf == "" {
		conf = defaultBootConfig()
	}
	if err := writeBootConfig(conf, bootConfig(dir, args.group)); err != nil {
		return err
	}
	verb := "kept"
	if made {
		verb = "made"
	}
	fmt.Fprintf(c.App.Writer, "%s shared place %s for group %s (gid %d)\nwrote %s\n", verb, escape(dir), escape(args.group), gid, escape(conf))
	return nil
}

// bootConfig is the configuration that makes the place again at boot: a
// tmpfiles.d entry on Linux, a LaunchDaemon running this command on macOS.
func bootConfig(dir, group string) []byte {
	if runtime.GOOS != "darwin" {
		return fmt.Appendf(nil, "# aliaslease share: the shared place of several users' databases (see aliaslease(1))\n"+
			"d %s 0755 root root -\nd %s 3770 root %s -\n", filepath.Dir(dir), dir, group)
	}
	exe, err := os.Executable()
	if err != nil {
		exe = "/usr/local/bin/aliaslease"
	}
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key><string>org.aliaslease.share</string>
	<key>ProgramArguments</key>
	<array><string>%s</string><string>share</string><string>--group</string><string>%s</string></array>
	<key>EnvironmentVariables</key><dict><key>ALIASLEASE_SHARED_DIR</key><string>%s</string></dict>
	<key>RunAtLoad</key><true/>
</dict>
</plist>
`, xmlEscape(exe), xmlEscape(group), xmlEscape(dir))
}

// writeBootConfig writes data to path whole (writeAtomically: a link at
// path is replaced, never followed), making its directory if need be.
func writeBootConfig(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return writeAtomically(path, data)
}

// shareCommand is "aliaslease share".
func shareCommand() *cli.Command {
	var args shareArgs
	return &cli.Command{
		Name:  "share",
		Usage: "as root, make the shared place where several users' databases claim their aliases, and its boot configuration",
		UsageText: "aliaslease share --group GROUP [--boot-config PATH]\n\n" +
			"Makes " + lease.DefaultSharedDir + " (ALIASLEASE_SHARED_DIR), owned by root and GROUP, mode 3770, and\n" +
			"the configuration that makes it again at boot (a tmpfiles.d entry on Linux, a LaunchDaemon\n" +
			"on macOS). Every user in GROUP then has each lease claim its alias there, and no database\n" +
			"hands out an alias another claims. A place there already that share did not make (another\n" +
			"owner, group or mode, a link) is refused (exit 8) and left alone.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "group", Destination: &args.group, Usage: "the group whose members share the pool"},
			&cli.StringFlag{Name: "boot-config", Destination: &args.bootConfig, Usage: "where to write the boot configuration (default " + defaultBootConfig() + ")"},
		},
		Action: func(c *cli.Context) error { return share(c, &args) },
	}
}

// xmlEscape escapes s for the plist's text.
func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
