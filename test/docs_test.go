package test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// docBlock is one fenced block of a Markdown file.
type docBlock struct {
	where  string // FILE:LINE of the fence
	lang   string // the fence's info string
	body   string
	before string // the last non-blank line before the fence
	syntax string // the reason given by a "docs-test: syntax only" marker, "" without one
}

var syntaxOnly = regexp.MustCompile(`^<!-- docs-test: syntax only: (.+) -->$`)

// docBlocks returns the fenced blocks of a Markdown file.
func docBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	var blocks []docBlock
	var cur *docBlock
	before := ""
	for i, line := range strings.Split(string(readFile(t, path)), "\n") {
		switch {
		case cur != nil && line == "```":
			blocks, cur = append(blocks, *cur), nil
		case cur != nil:
			cur.body += line + "\n"
		case strings.HasPrefix(line, "```"):
			cur = &docBlock{where: fmt.Sprintf("%s:%d", filepath.Base(path), i+1), lang: strings.TrimPrefix(line, "```"), before: before}
			if m := syntaxOnly.FindStringSubmatch(before); m != nil {
				cur.syntax = m[1]
			}
		case strings.TrimSpace(line) != "":
			before = strings.TrimSpace(line)
		}
	}
	if cur != nil {
		t.Fatalf("%s: unclosed block at %s", path, cur.where)
	}
	return blocks
}

// docsEnv is where the examples run: a root standing in for / (the
// binary at /usr/local/bin/aliaslease, node_exporter's directory), a
// HOME, a GOBIN and a Python venv, all temporary.
type docsEnv struct {
	root, home, venv string
	env              []string // for sh blocks
}

// installPath is where the README's Install puts the binary for
// services, and where every unit, plist and cron line must run it.
const installPath = "/usr/local/bin/aliaslease"

// mapped rewrites the absolute paths of an example into the root.
func (e *docsEnv) mapped(s string) string {
	for _, p := range []string{installPath, "/var/lib/prometheus/node-exporter"} {
		s = strings.ReplaceAll(s, p, e.root+p)
	}
	return s
}

func newDocsEnv(t *testing.T) *docsEnv {
	t.Helper()
	dir := t.TempDir()
	e := &docsEnv{root: filepath.Join(dir, "root"), home: filepath.Join(dir, "home"), venv: filepath.Join(dir, "venv")}
	for _, d := range []string{"usr/local/bin", "var/lib/prometheus/node-exporter", "etc/systemd/system"} {
		if err := os.MkdirAll(filepath.Join(e.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(e.home, 0o700)
	// A copy, not a link: systemd-analyze --root resolves links inside the root.
	if err := os.WriteFile(filepath.Join(e.root, installPath), readFile(t, bin), 0o755); err != nil {
		t.Fatal(err)
	}
	binDir := filepath.Join(dir, "bin")
	os.Mkdir(binDir, 0o755)
	os.Symlink(bin, filepath.Join(binDir, "aliaslease"))
	if out, err := exec.Command("python3", "-m", "venv", e.venv).CombinedOutput(); err != nil {
		t.Fatalf("python3 -m venv: %v\n%s", err, out)
	}
	// The Go caches stay the real ones (a new HOME would move them and
	// download every module again).
	goenv, err := exec.Command("go", "env", "GOPATH", "GOMODCACHE", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	g := strings.Fields(string(goenv))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ALIASLEASE_") && !strings.HasPrefix(kv, "XDG_STATE_HOME=") {
			e.env = append(e.env, kv)
		}
	}
	e.env = append(e.env, "HOME="+e.home, "GOBIN="+filepath.Join(dir, "gobin"), "GOPATH="+g[0], "GOMODCACHE="+g[1], "GOCACHE="+g[2],
		"PIP_NO_INDEX=1", // offline: nothing the examples install may come from an index
		"PATH="+filepath.Join(e.venv, "bin")+":"+binDir+":"+os.Getenv("PATH"))
	return e
}

// TestDocsExamples runs or checks every fenced block of the README and
// docs/operations.md (docs/operations.md, "The examples are tested").
func TestDocsExamples(t *testing.T) {
	e := newDocsEnv(t)
	var units []docBlock
	for _, path := range []string{"../README.md", "../docs/operations.md"} {
		for _, b := range docBlocks(t, path) {
			if b.lang == "ini" {
				units = append(units, b)
				continue
			}
			t.Run(b.where, func(t *testing.T) { e.check(t, b) })
		}
	}
	t.Run("systemd units", func(t *testing.T) { e.checkUnits(t, units) })
	t.Run("pool launchd-plist", func(t *testing.T) {
		out, err := exec.Command(bin, "pool", "launchd-plist").Output()
		if err != nil {
			t.Fatal(err)
		}
		p := parsePlist(t, out)
		argv := plistArgv(t, p)
		if len(argv) != 3 || argv[0] != "/bin/sh" || argv[1] != "-c" || p["RunAtLoad"] != true || p["Label"] != "dev.aliaslease.pool" {
			t.Fatalf("pool launchd-plist: argv %q, RunAtLoad %v, Label %v; want /bin/sh -c SCRIPT, true, dev.aliaslease.pool", argv, p["RunAtLoad"], p["Label"])
		}
		if out, err := exec.Command("sh", "-n", "-c", argv[2]).CombinedOutput(); err != nil {
			t.Errorf("sh -n of the plist's script: %v\n%s", err, out)
		}
	})
}

func (e *docsEnv) check(t *testing.T, b docBlock) {
	if b.syntax != "" {
		t.Logf("syntax only: %s", b.syntax)
		switch b.lang {
		case "sh":
			run(t, exec.Command("bash", "-n", "-c", b.body))
		case "python":
			run(t, exec.Command("python3", "-c", "import sys; compile(sys.argv[1], 'block', 'exec')", b.body))
		default:
			t.Fatalf("a %q block cannot be checked for syntax only", b.lang)
		}
		return
	}
	switch b.lang {
	case "sh":
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", b.body)
		cmd.Dir, cmd.Env = "..", e.env
		run(t, cmd)
	case "cron":
		e.checkCron(t, b.body)
	case "xml":
		e.checkPlist(t, b)
	default:
		t.Fatalf("no check for a %q block; run it here, or mark it <!-- docs-test: syntax only: REASON -->", b.lang)
	}
}

// run runs cmd and fails the test unless it exits 0; it returns the
// combined output.
func run(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%q: %v\n%s", cmd.Args, err, out)
	}
	return string(out)
}

// cronField is one field of a crontab time: *, N, N-M, lists of them,
// each with an optional /STEP.
var cronField = regexp.MustCompile(`^(\*|\d+(-\d+)?)(/\d+)?(,(\d+(-\d+)?)(/\d+)?)*$`)

// checkCron checks each crontab line's five time fields and that its
// command names the binary by its installed path, then runs the command
// as cron does (sh -c, cron's PATH), with its paths mapped into the root.
func (e *docsEnv) checkCron(t *testing.T, body string) {
	limits := [5][2]int{{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("cron line %q: want five time fields and a command", line)
		}
		for i, field := range f[:5] {
			if !cronField.MatchString(field) {
				t.Fatalf("cron line %q: field %d %q is not a crontab time", line, i+1, field)
			}
			for _, n := range regexp.MustCompile(`\d+`).FindAllString(strings.Split(field, "/")[0], -1) {
				if v, _ := strconv.Atoi(n); v < limits[i][0] || v > limits[i][1] {
					t.Fatalf("cron line %q: %d out of range in field %d", line, v, i+1)
				}
			}
		}
		command := strings.Join(f[5:], " ")
		if f[5] != installPath {
			t.Fatalf("cron line %q: the command must start with %s (cron's PATH is /usr/bin:/bin)", line, installPath)
		}
		e.runService(t, command)
	}
}

// runService runs a command line of a cron job, unit or plist, with its
// paths mapped into the root, as cron does: sh -c, PATH=/usr/bin:/bin.
func (e *docsEnv) runService(t *testing.T, command string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", e.mapped(command))
	cmd.Env = append(serviceDockerEnv(), "HOME="+e.home, "PATH=/usr/bin:/bin")
	run(t, cmd)
	if strings.Contains(command, "--textfile") {
		prom := e.mapped("/var/lib/prometheus/node-exporter/aliaslease.prom")
		if b, err := os.ReadFile(prom); err != nil || !bytes.Contains(b, []byte("# TYPE aliaslease_leases gauge\n")) {
			t.Errorf("%q wrote %q (%v), want the metrics", command, b, err)
		}
		os.Remove(prom)
	}
}

// serviceDockerEnv is the Docker part of this process's environment, which a
// service would have from its own.
func serviceDockerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DOCKER_") {
			env = append(env, kv)
		}
	}
	return env
}
