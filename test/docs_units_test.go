package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// unitName is the line before a unit's block, which names its file.
var unitName = regexp.MustCompile("`/etc/systemd/system/([a-z0-9-]+\\.(service|timer))`:$")

// checkUnits writes the docs' systemd units into the root, beside the
// host's own units (the targets they name), and has systemd-analyze
// verify them there; then it runs each ExecStart.
func (e *docsEnv) checkUnits(t *testing.T, units []docBlock) {
	if len(units) == 0 {
		t.Fatal("no systemd units found in the docs")
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (CI installs Debian's systemd for it); the units are not verified")
	}
	e.hostUnits(t)
	var paths, execs []string
	for _, u := range units {
		m := unitName.FindStringSubmatch(u.before)
		if m == nil {
			t.Fatalf("%s: the line before a unit must name its file, `/etc/systemd/system/NAME`: (got %q)", u.where, u.before)
		}
		path := filepath.Join(e.root, "etc/systemd/system", m[1])
		if err := os.WriteFile(path, []byte(u.body), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
		for _, line := range strings.Split(u.body, "\n") {
			if cmd, ok := strings.CutPrefix(line, "ExecStart="); ok {
				if !strings.HasPrefix(cmd, installPath+" ") {
					t.Errorf("%s: ExecStart=%s, want %s ...", u.where, cmd, installPath)
				}
				execs = append(execs, cmd)
			}
		}
	}
	verify := func(paths ...string) (string, error) {
		out, err := exec.Command(analyze, append([]string{"verify", "--root=" + e.root}, paths...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := verify(paths...); err != nil || out != "" {
		t.Fatalf("systemd-analyze verify %q: %v\n%s", paths, err, out)
	}
	// The check can fail: a unit whose ExecStart is not an absolute path.
	bad := filepath.Join(e.root, "etc/systemd/system/aliaslease-bad.service")
	os.WriteFile(bad, []byte("[Service]\nType=oneshot\nExecStart=usr/local/bin/aliaslease gc\n"), 0o644)
	if out, err := verify(bad); err == nil && out == "" {
		t.Errorf("systemd-analyze verify passed a unit with a relative ExecStart")
	}
	for _, cmd := range execs {
		e.runService(t, cmd)
	}
}

// hostUnits copies the host's systemd units into the root, so that the
// targets the docs' units name (timers.target, sysinit.target) exist
// there.
func (e *docsEnv) hostUnits(t *testing.T) {
	t.Helper()
	for _, dir := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		if _, err := os.Stat(filepath.Join(dir, "timers.target")); err == nil {
			dst := filepath.Join(e.root, "usr/lib/systemd")
			os.MkdirAll(dst, 0o755)
			run(t, exec.Command("cp", "-a", dir, dst))
			return
		}
	}
	t.Fatal("no host systemd units (timers.target) to verify the docs' units beside")
}

// parsePlist parses a property list with Python's plistlib.
func parsePlist(t *testing.T, data []byte) map[string]any {
	t.Helper()
	cmd := exec.Command("python3", "-c", "import json, plistlib, sys; json.dump(plistlib.loads(sys.stdin.buffer.read()), sys.stdout)")
	cmd.Stdin = strings.NewReader(string(data))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("plistlib: %v\n%s\n%s", err, stderr.String(), data)
	}
	var p map[string]any
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// plistArgv is a plist's ProgramArguments.
func plistArgv(t *testing.T, p map[string]any) []string {
	t.Helper()
	raw, _ := p["ProgramArguments"].([]any)
	var argv []string
	for _, a := range raw {
		s, ok := a.(string)
		if !ok {
			t.Fatalf("ProgramArguments holds %v, not strings", a)
		}
		argv = append(argv, s)
	}
	if len(argv) == 0 || !filepath.IsAbs(argv[0]) {
		t.Fatalf("ProgramArguments = %q, want an absolute program first", argv)
	}
	return argv
}

// checkPlist parses a launchd plist of the docs, checks that its Label
// is its file's name and that it runs the installed binary, and runs it.
var plistFile = regexp.MustCompile("^`[^`]*/([A-Za-z0-9.-]+)\\.plist`:$")

func (e *docsEnv) checkPlist(t *testing.T, b docBlock) {
	p := parsePlist(t, []byte(b.body))
	m := plistFile.FindStringSubmatch(b.before)
	if m == nil || p["Label"] != m[1] {
		t.Fatalf("%s: Label %v, want the file's name from %q", b.where, p["Label"], b.before)
	}
	argv := plistArgv(t, p)
	if argv[0] != installPath {
		t.Fatalf("%s: ProgramArguments %q, want %s first", b.where, argv, installPath)
	}
	e.runService(t, strings.Join(argv, " "))
}
