package lease

import (
	"bytes"
	"os"
	"strconv"
)

// zombie says whether pid has ended and is only waiting to be reaped
// (state Z, or X while it goes), from /proc/PID/stat: the state follows
// the command name, which is in parentheses and may hold anything.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	return b[i+2] == 'Z' || b[i+2] == 'X'
}
