// Command spawn starts and times the bench's measured processes. The
// bench runs it once and sends it requests, one JSON object per line on
// stdin; it answers one JSON object per line on stdout.
//
// It exists for peak memory. On Linux a child's ru_maxrss starts from
// the resident set of the process that forked it: Go forks with
// CLONE_VM|CLONE_VFORK, and exec records the parent's high-water mark
// as the child's (exec_mmap, setmax_mm_hiwater_rss). Children of the
// bench itself, which fills 65,000-lease databases and holds results,
// would all show the bench's peak (45 MiB after a fill, whatever the
// child used). This process stays small (about 3 MiB) and, before every
// request, returns its free memory to the OS and resets its own
// high-water mark (/proc/self/clear_refs "5"), so a child's figure is its
// own, with at most this process's few MiB as a floor.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"sync"
	"syscall"
	"time"
)

// Cmd is one process to start.
type Cmd struct {
	Argv    []string `json:"argv"`
	Env     []string `json:"env"`
	Capture bool     `json:"capture"` // keep stdout; otherwise /dev/null
}

// Request starts all Cmds at once (one after another, as fast as
// possible) and waits for all of them.
type Request struct {
	Cmds      []Cmd `json:"cmds"`
	TimeoutNS int64 `json:"timeout_ns"`
}

// Result is one process: wall time from just before its fork to its
// exit, peak RSS (KiB), CPU time (user + system), exit code (-1 when it did not exit normally or
// did not start), captured stdout and the start of its stderr.
type Result struct {
	WallNS   int64  `json:"wall_ns"`
	MaxRSSKB int64  `json:"maxrss_kb"`
	CPUNS    int64  `json:"cpu_ns"` // user + system time
	Code     int    `json:"code"`
	Out      string `json:"out,omitempty"`
	Err      string `json:"err,omitempty"`
}

// Response answers a Request: a Result per Cmd, and the wall time from
// the first fork to the last exit.
type Response struct {
	Results []Result `json:"results"`
	BurstNS int64    `json:"burst_ns"`
}

func main() {
	dec := json.NewDecoder(os.Stdin)
	enc := json.NewEncoder(os.Stdout)
	for {
		var req Request
		if err := dec.Decode(&req); err != nil {
			if err == io.EOF {
				return
			}
			os.Stderr.WriteString("spawn: " + err.Error() + "\n")
			os.Exit(1)
		}
		debug.FreeOSMemory()
		os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
		if err := enc.Encode(do(req)); err != nil {
			os.Exit(1)
		}
	}
}

func do(req Request) Response {
	timeout := time.Duration(req.TimeoutNS)
	if timeout <= 0 {
		timeout = time.Minute
	}
	type proc struct {
		cmd        *exec.Cmd
		cancel     context.CancelFunc
		out, errb  bytes.Buffer
		start, end time.Time
		startErr   error
	}
	ps := make([]*proc, len(req.Cmds))
	for i, c := range req.Cmds {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		p := &proc{cancel: cancel}
		p.cmd = exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
		p.cmd.Env = c.Env
		if c.Capture {
			p.cmd.Stdout = &p.out
		}
		p.cmd.Stderr = &p.errb
		ps[i] = p
	}
	res := Response{Results: make([]Result, len(ps))}
	var wg sync.WaitGroup
	first := time.Now()
	for i, p := range ps {
		p.start = time.Now()
		if p.startErr = p.cmd.Start(); p.startErr != nil {
			res.Results[i] = Result{Code: -1, Err: p.startErr.Error()}
			p.end = p.start
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.cmd.Wait()
			p.end = time.Now()
			r := Result{WallNS: int64(p.end.Sub(p.start))}
			if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				r.MaxRSSKB = ru.Maxrss
			}
			r.CPUNS = int64(p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime())
			if err != nil {
				r.Code = p.cmd.ProcessState.ExitCode()
				if r.Code == 0 {
					r.Code = -1
				}
				e := p.errb.Bytes()
				r.Err = string(e[:min(len(e), 300)])
				if r.Err == "" {
					r.Err = err.Error()
				}
			}
			r.Out = p.out.String()
			res.Results[i] = r
		}()
	}
	wg.Wait()
	last := first
	for _, p := range ps {
		p.cancel()
		if p.end.After(last) {
			last = p.end
		}
	}
	res.BurstNS = int64(last.Sub(first))
	return res
}
