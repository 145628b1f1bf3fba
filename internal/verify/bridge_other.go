//go:build !linux

package verify

import (
	"net"
	"strings"
)

// isBridge says whether the interface is a bridge: on macOS and the BSDs
// bridges are named bridgeN (vmnet's shared network is bridge100).
func isBridge(ifc net.Interface) bool { return strings.HasPrefix(ifc.Name, "bridge") }
