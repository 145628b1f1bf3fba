//go:build linux

package verify

import (
	"net"
	"os"
	"path/filepath"
)

// isBridge says whether the interface is a bridge: Linux shows a
// bridge's attributes in /sys/class/net/NAME/bridge.
func isBridge(ifc net.Interface) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", ifc.Name, "bridge"))
	return err == nil
}
