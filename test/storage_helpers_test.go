package test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/internal/fstree"
	bolt "go.etcd.io/bbolt"
)

// storageEngine serves a Docker API on a unix socket that answers, with
// no containers at all; it returns the environment pointing aliaslease
// at it. The storage tests need an engine only for commands that refuse
// to run without one (recover, gc), not for what it says.
func storageEngine(t *testing.T) []string {
	t.Helper()
	dir, err := os.MkdirTemp("", "als")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, "docker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		w.Header().Set("Content-Type", "application/json")
		switch filepath.Base(r.URL.Path) {
		case "_ping":
			w.Write([]byte("OK"))
		case "version":
			w.Write([]byte(`{"Version":"20.10.24","ApiVersion":"1.41"}`))
		case "json": // /containers/json
			w.Write([]byte("[]"))
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return []string{"DOCKER_HOST=unix://" + filepath.Join(dir, "docker.sock")}
}

// storageTree describes every entry under dir (see fstree.Snapshot).
func storageTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	return fstree.Snapshot(dir)
}

// storageSameTree fails the test for every difference between two trees.
func storageSameTree(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for _, d := range fstree.Diff(before, after) {
		t.Errorf("%s: %s", what, d)
	}
}

// storageBolt changes a database with bbolt directly, as another
// program, an attacker or damage would.
func storageBolt(t *testing.T, path string, change func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(change); err != nil {
		t.Fatal(err)
	}
}

// storageRun starts aliaslease and returns a function that waits for it
// for at most limit, killing it after that; killed says whether it had
// to.
func storageRun(t *testing.T, env []string, args ...string) (cmd *exec.Cmd, wait func(limit time.Duration) (r result, killed bool)) {
	t.Helper()
	cmd = exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, func(limit time.Duration) (result, bool) {
		killed := false
		select {
		case <-done:
		case <-time.After(limit):
			killed = true
			cmd.Process.Kill()
			<-done
		}
		return result{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode()}, killed
	}
}

// cliBounded runs aliaslease as cli does, but kills it after limit and
// fails the test then: a hostile file must never make it hang.
func cliBounded(t *testing.T, limit time.Duration, env []string, args ...string) result {
	t.Helper()
	_, wait := storageRun(t, env, args...)
	r, killed := wait(limit)
	if killed {
		t.Errorf("aliaslease %v hung: killed after %v", args, limit)
	}
	return r
}

// storageDocker returns the environment for the real engine (DOCKER_HOST
// when it is a unix socket, else /var/run/docker.sock) if it answers a
// ping; otherwise it skips the test, or fails it when
// ALIASLEASE_TEST_DOCKER=1 says an engine must be there.
func storageDocker(t *testing.T) []string {
	t.Helper()
	host := os.Getenv("DOCKER_HOST")
	if !strings.HasPrefix(host, "unix://") {
		host = "unix:///var/run/docker.sock"
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", strings.TrimPrefix(host, "unix://"))
		},
	}}
	resp, err := client.Get("http://docker/_ping")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("ping answered %s", resp.Status)
		}
	}
	if err != nil {
		msg := fmt.Sprintf("no Docker engine answers at %s (%v); test/docker-up.sh starts one", host, err)
		if os.Getenv("ALIASLEASE_TEST_DOCKER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return []string{"DOCKER_HOST=" + host}
}
