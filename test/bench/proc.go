package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// sample is one measured process: wall time from fork to exit, CPU time
// (user + system), its peak resident set (ru_maxrss, KiB on Linux) and
// exit status.
type sample struct {
	wall  time.Duration
	cpu   time.Duration
	maxKB int64
	code  int
	out   string // stdout, when captured
}

// series is the samples of one command in one setting.
type series struct {
	name    string
	samples []sample
}

func (s *series) add(x sample) { s.samples = append(s.samples, x) }

func (s *series) walls() []time.Duration {
	ds := make([]time.Duration, len(s.samples))
	for i, x := range s.samples {
		ds[i] = x.wall
	}
	slices.Sort(ds)
	return ds
}

// medianCPU is the median CPU time of the samples.
func (s *series) medianCPU() time.Duration {
	ds := make([]time.Duration, len(s.samples))
	for i, x := range s.samples {
		ds[i] = x.cpu
	}
	return medianOf(ds)
}

// median is the middle sample (the lower middle for an even count).
func (s *series) median() time.Duration { return medianOf(s.walls()) }

func (s *series) min() time.Duration {
	if ds := s.walls(); len(ds) > 0 {
		return ds[0]
	}
	return 0
}

func (s *series) max() time.Duration {
	if ds := s.walls(); len(ds) > 0 {
		return ds[len(ds)-1]
	}
	return 0
}

func (s *series) peakKB() int64 {
	var m int64
	for _, x := range s.samples {
		m = max(m, x.maxKB)
	}
	return m
}

func (s *series) failures() int {
	n := 0
	for _, x := range s.samples {
		if x.code != 0 {
			n++
		}
	}
	return n
}

func medianOf(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[(len(ds)-1)/2]
}

// cmdSpec is one command to run: argv and extra environment.
type cmdSpec struct {
	env     []string
	argv    []string
	capture bool // keep stdout (otherwise it goes to /dev/null)
}

// baseEnv is the environment of every measured command: this process's,
// without any ALIASLEASE_ or DOCKER_ setting that could steer it.
func baseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ALIASLEASE_") || strings.HasPrefix(kv, "DOCKER_") || strings.HasPrefix(kv, "GODEBUG=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

var envBase = baseEnv()

// spawner is the small process that starts and times every measured
// command (test/bench/spawn: why it exists).
type spawner struct {
	mu  sync.Mutex
	cmd *exec.Cmd
	in  *json.Encoder
	out *json.Decoder
}

type spawnCmd struct {
	Argv    []string `json:"argv"`
	Env     []string `json:"env"`
	Capture bool     `json:"capture"`
}

type spawnResult struct {
	WallNS   int64  `json:"wall_ns"`
	MaxRSSKB int64  `json:"maxrss_kb"`
	CPUNS    int64  `json:"cpu_ns"`
	Code     int    `json:"code"`
	Out      string `json:"out"`
	Err      string `json:"err"`
}

type spawnResponse struct {
	Results []spawnResult `json:"results"`
	BurstNS int64         `json:"burst_ns"`
}

var sp *spawner

func startSpawner(path string) {
	cmd := exec.Command(path)
	cmd.Stderr = os.Stderr
	w, err := cmd.StdinPipe()
	if err != nil {
		fatalf("%v", err)
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		fatalf("%v", err)
	}
	if err := cmd.Start(); err != nil {
		fatalf("starting %s: %v", path, err)
	}
	sp = &spawner{cmd: cmd, in: json.NewEncoder(w), out: json.NewDecoder(r)}
}

// burst forks all commands one after another, as fast as possible, and
// waits for all of them. It returns each process's sample and the wall
// time from the first fork to the last exit.
func burst(cs []cmdSpec) ([]sample, time.Duration) {
	req := struct {
		Cmds      []spawnCmd `json:"cmds"`
		TimeoutNS int64      `json:"timeout_ns"`
	}{TimeoutNS: int64(*procTimeout)}
	for _, c := range cs {
		req.Cmds = append(req.Cmds, spawnCmd{Argv: c.argv, Env: append(slices.Clone(envBase), c.env...), Capture: c.capture})
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if err := sp.in.Encode(req); err != nil {
		fatalf("spawner: %v", err)
	}
	var resp spawnResponse
	if err := sp.out.Decode(&resp); err != nil {
		fatalf("spawner: %v", err)
	}
	if len(resp.Results) != len(cs) {
		fatalf("spawner answered %d results for %d commands", len(resp.Results), len(cs))
	}
	out := make([]sample, len(cs))
	for i, r := range resp.Results {
		out[i] = sample{wall: time.Duration(r.WallNS), cpu: time.Duration(r.CPUNS), maxKB: r.MaxRSSKB, code: r.Code, out: r.Out}
		if r.Code != 0 {
			logf("%s: exit %d: %s", strings.Join(cs[i].argv, " "), r.Code, firstLine(r.Err))
		}
	}
	return out, time.Duration(resp.BurstNS)
}

// run runs one command alone, timed from fork to exit.
func run(c cmdSpec) sample {
	out, _ := burst([]cmdSpec{c})
	return out[0]
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}
