package confine

import (
	"bytes"
	"strconv"
)

// procStat is what the process-group holder needs of /proc/PID/stat.
type procStat struct {
	pid, ppid, pgrp int
	state           byte
	start           uint64 // clock ticks after boot: (pid, start) names one process for good
}

// zombie says whether the process has ended and only waits to be reaped.
func (s procStat) zombie() bool { return s.state == 'Z' || s.state == 'X' }

// parseStat reads /proc/PID/stat (proc(5)): the command name is in
// parentheses and may hold anything, so fields are counted after the
// last ')': state, ppid, pgrp, ..., starttime (field 22).
func parseStat(data []byte) (procStat, bool) {
	open := bytes.IndexByte(data, '(')
	end := bytes.LastIndexByte(data, ')')
	if open < 1 || end < open {
		return procStat{}, false
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data[:open])))
	f := bytes.Fields(data[end+1:])
	if err != nil || pid <= 0 || len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, false
	}
	s := procStat{pid: pid, state: f[0][0]}
	var e1, e2, e3 error
	s.ppid, e1 = strconv.Atoi(string(f[1]))
	s.pgrp, e2 = strconv.Atoi(string(f[2]))
	s.start, e3 = strconv.ParseUint(string(f[19]), 10, 64)
	if e1 != nil || e2 != nil || e3 != nil || s.ppid < 0 || s.pgrp < 0 {
		return procStat{}, false
	}
	return s, true
}
