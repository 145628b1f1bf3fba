package netif

import (
	"fmt"
	"net/netip"

	"github.com/aliaslease/aliaslease/lease"
)

// LaunchdPlist returns a launchd property list for a LaunchDaemon
// (label dev.aliaslease.pool, for
// /Library/LaunchDaemons/dev.aliaslease.pool.plist) that adds every pool
// alias to lo0 at each boot with "/sbin/ifconfig lo0 alias IP/32 up", run
// as root by launchd, so that launches never need a sudo prompt. The
// commands go through /bin/sh -c; they are built from pool addresses only,
// which need neither shell quoting nor XML escaping. It is portable code:
// the plist can be written on any system.
func LaunchdPlist(pool lease.Pool) string {
	script := ""
	pool.All(func(a netip.Addr) bool {
		script += fmt.Sprintf("%s lo0 alias %s/32 up; ", Ifconfig, a)
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
