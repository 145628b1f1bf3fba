package netif

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/aliaslease/aliaslease/lease"
)

// LaunchdPlist returns a launchd property list for a LaunchDaemon
// (label dev.aliaslease.pool, for
// /Library/LaunchDaemons/dev.aliaslease.pool.plist) that adds every pool
// alias to lo0 at each boot with "/sbin/ifconfig lo0 alias IP/32 up", run
// as root by launchd, so that launches never need a sudo prompt. The
// script is one /bin/sh loop per range of the pool, so its size does not
// grow with the pool (a /16 is one loop, not one command per alias); it is built
// from pool addresses only, which need no shell quoting; its arithmetic
// is escaped for XML. It is portable code: the plist can be written on any system.
func LaunchdPlist(pool lease.Pool) string {
	var script strings.Builder
	pool.Ranges(func(first, last netip.Addr) bool {
		lo, hi := first.As4(), last.As4()
		fmt.Fprintf(&script, "i=%d; while [ $i -le %d ]; do %s lo0 alias $((i>>24&255)).$((i>>16&255)).$((i>>8&255)).$((i&255))/32 up; i=$((i+1)); done; ",
			binary.BigEndian.Uint32(lo[:]), binary.BigEndian.Uint32(hi[:]), Ifconfig)
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
		<string>` + xmlText(script.String()) + `</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
</dict>
</plist>
`
}

// xmlText escapes s for an XML text node: the script holds & and > (its
// arithmetic), and nothing else that XML minds.
var xmlText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
