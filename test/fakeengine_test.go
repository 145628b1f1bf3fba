package test

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeEngine is the suite's one fake Docker Engine API, served on a unix
// socket, for what a real engine cannot show: an engine with no
// containers at all, whatever else the machine runs, and one that
// misbehaves or is not there. Everything else uses the real engine.
type fakeEngine struct {
	host     string       // its DOCKER_HOST URL
	fault    string       // see newFakeEngine
	requests atomic.Int64 // HTTP requests it has had
}

// newFakeEngine serves an engine with fault, one of:
//
//	""            answers, with no containers
//	"unreachable" is not there: no socket file
//	"refused"     a socket file nobody listens on, as after an engine died
//	"hang"        accepts connections and never answers
//	"500"         answers the ping, and every other request with an error
//	"truncated"   lists containers in JSON cut off in the middle
//	"inspect500"  lists an exited container, whose inspect fails
//
// The test stops it at its end.
func newFakeEngine(t *testing.T, fault string) *fakeEngine {
	t.Helper()
	// Not t.TempDir(): a socket's path must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "ald")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "docker.sock")
	e := &fakeEngine{host: "unix://" + sock, fault: fault}
	if fault == "unreachable" {
		return e
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	switch fault {
	case "refused":
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		ln.Close()
	case "hang":
		go hold(ln)
	default:
		srv := &http.Server{Handler: e}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	return e
}

// env is the environment that points aliaslease at the engine.
func (e *fakeEngine) env() []string { return []string{"DOCKER_HOST=" + e.host} }

// hold accepts connections on ln and never answers them, until ln is
// closed.
func hold(ln net.Listener) {
	var held []net.Conn
	for {
		c, err := ln.Accept()
		if err != nil {
			for _, c := range held {
				c.Close()
			}
			return
		}
		held = append(held, c)
	}
}

// ServeHTTP answers as the engine's fault says.
func (e *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.requests.Add(1)
	w.Header().Set("Api-Version", "1.41")
	json := func(body string) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}
	list := strings.HasSuffix(r.URL.Path, "/containers/json")
	switch {
	case strings.HasSuffix(r.URL.Path, "/_ping"):
		w.Write([]byte("OK"))
	case e.fault == "500":
		http.Error(w, `{"message":"engine on fire"}`, http.StatusInternalServerError)
	case strings.HasSuffix(r.URL.Path, "/version"):
		json(`{"Version":"20.10.24","ApiVersion":"1.41","MinAPIVersion":"1.12"}`)
	case list && e.fault == "truncated":
		json(`[{"Id":"0123456789abcdef","Names":["/x"],"State":"running","Ports":[{"IP":"127.0.0.16","PrivatePort":80,"Pub`)
	case list && e.fault == "inspect500":
		json(`[{"Id":"0123456789abcdef","Names":["/x"],"State":"exited","Ports":[]}]`)
	case list:
		json("[]")
	case e.fault == "inspect500":
		http.Error(w, `{"message":"inspect failed"}`, http.StatusInternalServerError)
	default:
		http.NotFound(w, r)
	}
}
