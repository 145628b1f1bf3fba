//go:build linux

package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/internal/confine"
)

// echoOn starts a TCP server (python3) on addr that echoes what each
// connection sends, until the test ends, and returns its port.
func echoOn(t *testing.T, addr string) string {
	t.Helper()
	const script = `import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 0))
s.listen()
print(s.getsockname()[1], flush=True)
def echo(c):
    while True:
        b = c.recv(64)
        if not b:
            return
        c.sendall(b)
while True:
    c, _ = s.accept()
    threading.Thread(target=echo, args=(c,), daemon=True).start()
`
	return pythonPort(t, "the echo server on "+addr, script, addr)
}

// client is a process (python3) that opens connections when told to:
// "connect ADDR PORT" answers "ok" or "err ERRNO"; "open ADDR PORT" opens
// one and keeps it; "old" sends a byte on the kept one and answers "ok"
// when it comes back.
type client struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

const clientScript = `import socket, sys
kept = None
for line in sys.stdin:
    f = line.split()
    try:
        if f[0] == "open":
            kept = socket.create_connection((f[1], int(f[2])), 3)
        elif f[0] == "old":
            kept.sendall(b"x")
            if kept.recv(1) != b"x":
                raise OSError(0, "no echo")
        else:
            socket.create_connection((f[1], int(f[2])), 3).close()
        print("ok", flush=True)
    except OSError as e:
        print("err", e.errno, flush=True)
`

// startClient starts a client; with cgroupDir, in that cgroup from its
// first instruction.
func startClient(t *testing.T, cgroupDir string) *client {
	t.Helper()
	cmd := exec.Command("python3", "-u", "-c", clientScript)
	if cgroupDir != "" {
		fd, err := syscall.Open(cgroupDir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(fd)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("python3: %v", err)
	}
	c := &client{cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(c.stop)
	return c
}

// do sends one request and returns its answer.
func (c *client) do(t *testing.T, req string) string {
	t.Helper()
	if _, err := fmt.Fprintln(c.in, req); err != nil {
		t.Fatalf("client %q: %v", req, err)
	}
	line, err := c.out.ReadString('\n')
	if err != nil {
		t.Fatalf("client %q: %v", req, err)
	}
	return strings.TrimSpace(line)
}

// stop ends the client and waits for it.
func (c *client) stop() {
	c.in.Close()
	c.cmd.Process.Kill()
	c.cmd.Wait()
}

// refused is the client's answer to a connection the rules refuse (TCP
// reset: ECONNREFUSED).
var refused = "err " + strconv.Itoa(int(syscall.ECONNREFUSED))

// foreignCgroup makes a cgroup under the cgroup2 mount, outside
// aliaslease's subtree (as systemd makes a unit's), and removes it when
// the test ends, ending what is left in it first.
func foreignCgroup(t *testing.T) (dir, rel string) {
	t.Helper()
	root, err := confine.Find()
	if err != nil {
		t.Fatalf("confine.Find() = %v", err)
	}
	rel = fmt.Sprintf("/aliaslease-test-%016x", rand.Uint64())
	dir = filepath.Join(root.Mount, rel)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
		if err := removeCgroup(dir); err != nil {
			t.Errorf("the test's cgroup is left behind: %v", err)
		}
	})
	return dir, rel
}

// removeCgroup removes an empty cgroup, waiting a little for the kernel
// to see the last process of it gone (EBUSY until then); one already
// gone is no error.
func removeCgroup(dir string) error {
	var err error
	for range 250 {
		if err = os.Remove(dir); err == nil || os.IsNotExist(err) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// confinedJSON is what confine --json prints.
type confinedJSON struct {
	Cgroup   string   `json:"cgroup"`
	CgroupID uint64   `json:"cgroup_id"`
	Allows   []string `json:"allows"`
	Moved    []int    `json:"moved"`
}

// confineCLI runs confine --json with args and returns what it confined;
// the rules are removed again when the test ends, whatever it did.
func confineCLI(t *testing.T, env []string, args ...string) confinedJSON {
	t.Helper()
	var c confinedJSON
	if err := json.Unmarshal([]byte(mustCLI(t, env, append([]string{"confine", "--json"}, args...)...)), &c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { confine.HostFirewall().Remove(c.CgroupID) })
	return c
}

// present says whether the complete rules of cgroup id are in the firewall.
func present(t *testing.T, id uint64) bool {
	t.Helper()
	ok, err := confine.HostFirewall().Present(id)
	if err != nil {
		t.Fatalf("Present(%d) = %v", id, err)
	}
	return ok
}

// listedConfinement is one lease as list --json and inspect show its
// confinement.
type listedConfinement struct {
	Slug         string `json:"slug"`
	Isolation    string `json:"isolation"`
	Confinements []struct {
		Cgroup   string   `json:"cgroup"`
		CgroupID uint64   `json:"cgroup_id"`
		Allows   []string `json:"allows"`
	} `json:"confinements"`
	Holders []struct {
		Name string `json:"name"`
	} `json:"holders"`
}

// shownAllows returns what list --json, inspect and the table say slug's
// confinement allows, and its isolation; it fails the test when they
// disagree.
func shownAllows(t *testing.T, env []string, slug string) (isolation string, allows []string) {
	t.Helper()
	var listed, inspected []listedConfinement
	if err := json.Unmarshal([]byte(mustCLI(t, env, "list", "--json")), &listed); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(mustCLI(t, env, "inspect", slug)), &inspected); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(listed, func(l listedConfinement) bool { return l.Slug == slug })
	if i < 0 || len(inspected) != 1 {
		t.Fatalf("list --json has no %s, or inspect not one: %v, %v", slug, listed, inspected)
	}
	l := listed[i]
	if l.Isolation != inspected[0].Isolation || len(l.Confinements) != len(inspected[0].Confinements) {
		t.Errorf("list --json says %+v of %s, inspect %+v", l, slug, inspected[0])
	}
	table := mustCLI(t, env, "list", "--format", "{{.Slug}} {{.Isolation}} {{.Allows}}")
	var want string
	for _, c := range l.Confinements {
		allows = append(allows, c.Allows...)
		want = strings.TrimPrefix(want+";"+strings.Join(c.Allows, ","), ";")
	}
	if line := slug + " " + l.Isolation + " " + want; !strings.Contains(table, line+"\n") {
		t.Errorf("list --format printed %q, want the line %q", table, line)
	}
	return l.Isolation, allows
}

// tableRow is slug's line of list's default table.
func tableRow(t *testing.T, env []string, slug string) string {
	t.Helper()
	for _, line := range strings.Split(mustCLI(t, env, "list"), "\n") {
		if strings.HasPrefix(line, slug+" ") {
			return line
		}
	}
	t.Fatalf("list's table has no row for %s", slug)
	return ""
}
