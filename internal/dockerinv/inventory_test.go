package dockerinv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// fakeEngine answers the Engine API calls the inventory makes, at API
// version 1.41, and records what it was asked. It stands in for faults
// a real engine does not show.
type fakeEngine struct {
	mu       sync.Mutex
	list     string            // the list answer
	inspect  map[string]string // inspect answers by container ID; missing: 404 "No such container"
	networks map[string]string // network inspect answers by name; missing: 404 "network NAME not found"
	paths    []string          // every request, "METHOD PATH?QUERY"
	inspects int               // inspect requests
	// handle, when set, answers requests other than the ping itself.
	handle http.HandlerFunc
}

func (f *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.paths = append(f.paths, r.Method+" "+r.URL.RequestURI())
	f.mu.Unlock()
	if r.URL.Path == "/_ping" {
		w.Header().Set("API-Version", "1.41")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "OK")
		return
	}
	if f.handle != nil {
		f.handle(w, r)
		return
	}
	f.serveAPI(w, r)
}

func (f *fakeEngine) serveAPI(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	p := r.URL.Path
	switch {
	case p == "/v1.41/containers/json":
		io.WriteString(w, cmp.Or(f.list, "[]"))
	case p == "/v1.41/version":
		io.WriteString(w, `{"Version":"20.10.24","ApiVersion":"1.41","MinAPIVersion":"1.12"}`)
	case strings.HasPrefix(p, "/v1.41/containers/") && strings.HasSuffix(p, "/json"):
		f.inspects++
		id := strings.TrimSuffix(strings.TrimPrefix(p, "/v1.41/containers/"), "/json")
		if js, ok := f.inspect[id]; ok {
			io.WriteString(w, js)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"message":"No such container: %s"}`, id)
	case strings.HasPrefix(p, "/v1.41/networks/"):
		name := strings.TrimPrefix(p, "/v1.41/networks/")
		if js, ok := f.networks[name]; ok {
			io.WriteString(w, js)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"message":"network %s not found"}`, name)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"message":"page not found"}`)
	}
}

func (f *fakeEngine) requests() ([]string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.paths), f.inspects
}

// serveTCP serves h on a loopback TCP port and returns its tcp:// host.
func serveTCP(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return "tcp://" + strings.TrimPrefix(srv.URL, "http://")
}

// serveUnix serves h on a unix socket and returns its unix:// host.
func serveUnix(t *testing.T, h http.Handler) string {
	t.Helper()
	path := filepath.Join(shortTempDir(t), "d.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + path
}

// shortTempDir is a temporary directory whose path fits in a unix
// socket address (t.TempDir can be too long on macOS).
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "di")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// emptyEnv is an environment with nothing set but an empty docker config
// directory, so that the machine's own settings never leak into a test.
func emptyEnv(t *testing.T) func(string) string {
	t.Helper()
	env := map[string]string{"DOCKER_CONFIG": t.TempDir(), "HOME": t.TempDir()}
	return func(k string) string { return env[k] }
}

func newTestInventory(t *testing.T, host string, timeout time.Duration) *Inventory {
	t.Helper()
	return New(Config{Host: host, Timeout: timeout, Getenv: emptyEnv(t)})
}

func sortHolders(hs []lease.Holder) {
	slices.SortFunc(hs, func(a, b lease.Holder) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), a.Alias.Compare(b.Alias), strings.Compare(a.Port, b.Port))
	})
}

func TestVersionedRequests(t *testing.T) {
	f := &fakeEngine{
		list:    `[{"Id":"aaa","Names":["/x"],"State":"exited","Ports":[]}]`,
		inspect: map[string]string{"aaa": `{"Id":"aaa","HostConfig":{"PortBindings":{}}}`},
	}
	inv := newTestInventory(t, serveTCP(t, f), 5*time.Second)
	if _, err := inv.Holders(context.Background()); err != nil {
		t.Fatalf("Holders() = %v, want no error", err)
	}
	e, err := inv.Engine(context.Background())
	if err != nil || e.Version != "20.10.24" || e.APIVersion != "1.41" || e.ClientAPIVersion != "1.41" {
		t.Fatalf("Engine() = %+v, %v, want 20.10.24, API 1.41 spoken", e, err)
	}
	d, err := inv.Describe(context.Background())
	if err != nil || d.Version != "20.10.24" || d.APIVersion != "1.41" || !strings.HasPrefix(d.Host, "tcp://127.0.0.1:") || d.Source != "--docker-host" {
		t.Fatalf("Describe() = %+v, %v, want 20.10.24, API 1.41 at the server", d, err)
	}
	paths, _ := f.requests()
	want := map[string]bool{
		"GET /v1.41/containers/json?all=1": false,
		"GET /v1.41/containers/aaa/json":   false,
		"GET /v1.41/version":               false,
	}
	for _, p := range paths {
		_, path, _ := strings.Cut(p, " ")
		if path == "/_ping" {
			continue
		}
		if !strings.HasPrefix(path, "/v1.41/") {
			t.Errorf("request %q has no /v1.41/ prefix", p)
		}
		if _, ok := want[p]; ok {
			want[p] = true
		}
	}
	for p, seen := range want {
		if !seen {
			t.Errorf("no request %q among %q", p, paths)
		}
	}
}

func TestHolders(t *testing.T) {
	const (
		running = "1111111111111111"
		exited  = "2222222222222222"
		created = "3333333333333333"
		leased  = "4444444444444444"
		gone    = "5555555555555555"
		paused  = "6666666666666666"
	)
	f := &fakeEngine{
		list: `[
{"Id":"` + running + `","Names":["/web"],"State":"running","Labels":{"aliaslease.slug":"a"},"Ports":[
  {"IP":"127.0.0.16","PrivatePort":80,"PublicPort":8080,"Type":"tcp"},
  {"IP":"127.0.0.16","PrivatePort":443,"PublicPort":8443,"Type":"tcp"},
  {"IP":"127.0.0.16","PrivatePort":443,"PublicPort":8443,"Type":"tcp"},
  {"IP":"::ffff:127.0.0.17","PrivatePort":53,"PublicPort":53,"Type":"udp"},
  {"IP":"0.0.0.0","PrivatePort":22,"PublicPort":2222,"Type":"tcp"},
  {"IP":"::","PrivatePort":22,"PublicPort":2222,"Type":"tcp"},
  {"PrivatePort":9000,"Type":"tcp"}]},
{"Id":"` + exited + `","Names":["/db"],"State":"exited","Labels":{"aliaslease.slug":"b"},"Ports":[]},
{"Id":"` + created + `","Names":["/new"],"State":"created","Ports":null},
{"Id":"` + leased + `","Names":["/cache"],"State":"exited","Labels":{"aliaslease.slug":"a"},"Ports":[]},
{"Id":"` + gone + `","Names":["/gone"],"State":"exited","Ports":[]},
{"Id":"` + paused + `","Names":["/p"],"State":"paused","Ports":[{"IP":"127.0.0.18","PrivatePort":1,"PublicPort":1,"Type":"tcp"}]},
{"Id":"7777777777777777","Names":["/idle"],"State":"running","Ports":[]}
]`,
		inspect: map[string]string{
			exited:  `{"Id":"` + exited + `","HostConfig":{"PortBindings":{"5432/tcp":[{"HostIp":"127.0.0.19","HostPort":"5432"}],"80/tcp":[{"HostIp":"","HostPort":"8000"},{"HostIp":"::ffff:127.0.0.19","HostPort":"8001"}]}}}`,
			created: `{"Id":"` + created + `","HostConfig":{"PortBindings":null}}`,
			leased:  `{"Id":"` + leased + `","HostConfig":{"PortBindings":{"1/tcp":[{"HostIp":"127.0.0.16","HostPort":"1"}]}}}`,
		},
	}
	f.networks = map[string]string{"bridge": `{"Name":"bridge","Options":{"` + HostBindingOption + `":"0.0.0.0"}}`}
	inv := newTestInventory(t, serveUnix(t, f), 5*time.Second)
	hs, err := inv.Holders(context.Background())
	if err != nil {
		t.Fatalf("Holders() = %v, want no error", err)
	}
	ip := netip.MustParseAddr
	h := func(id, name, slug, state, addr, port string) lease.Holder {
		var a netip.Addr
		if addr != "" {
			a = ip(addr)
		}
		return lease.Holder{Alias: a, ID: id, Name: name, Slug: slug, State: state, Port: port}
	}
	want := []lease.Holder{
		h(running, "web", "a", "running", "127.0.0.16", "8080->80/tcp"),
		h(running, "web", "a", "running", "127.0.0.16", "8443->443/tcp"),
		h(running, "web", "a", "running", "127.0.0.17", "53->53/udp"),
		h(running, "web", "a", "running", "0.0.0.0", "2222->22/tcp"),
		h(running, "web", "a", "running", "::", "2222->22/tcp"),
		h(exited, "db", "b", "exited", "127.0.0.19", "5432->5432/tcp"),
		h(exited, "db", "b", "exited", "0.0.0.0", "8000->80/tcp"),
		h(exited, "db", "b", "exited", "127.0.0.19", "8001->80/tcp"),
		h(leased, "cache", "a", "exited", "127.0.0.16", "1->1/tcp"),
		h(paused, "p", "", "paused", "127.0.0.18", "1->1/tcp"),
	}
	sortHolders(hs)
	sortHolders(want)
	if !reflect.DeepEqual(hs, want) {
		t.Errorf("Holders() =\n%v\nwant\n%v", hs, want)
	}
	paths, inspects := f.requests()
	if inspects != 5 {
		t.Errorf("%d inspects, want 5 (db, new, cache, gone, idle): %q", inspects, paths)
	}
	if n := strings.Count(strings.Join(paths, "\n"), "/networks/bridge"); n != 1 {
		t.Errorf("%d inspects of the bridge network, want 1: %q", n, paths)
	}
}

// hangingUnix is a unix socket that accepts connections and never
// answers.
func hangingUnix(t *testing.T) string {
	t.Helper()
	path := filepath.Join(shortTempDir(t), "hang.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "unix://" + path
}

// staleUnix is a socket file that nothing listens on any more.
func staleUnix(t *testing.T) string {
	t.Helper()
	path := filepath.Join(shortTempDir(t), "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	return "unix://" + path
}

// refusedTCP is a loopback port that was listened on and closed.
func refusedTCP(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "tcp://" + addr
}

// answering serves h behind the fake engine's ping.
func answering(h http.HandlerFunc) *fakeEngine { return &fakeEngine{handle: h} }

func TestHoldersErrors(t *testing.T) {
	redirectTarget := &fakeEngine{}
	target := serveTCP(t, redirectTarget)
	const exitedList = `[{"Id":"abc","Names":["/x"],"State":"exited","Ports":[]}]`
	tests := []struct {
		name    string
		host    func(t *testing.T) string
		timeout time.Duration
		cancel  bool // cancel the caller's context while Holders waits
		is      []error
		isNot   []error
		sub     string // in the message
	}{
		{name: "missing socket path", host: func(t *testing.T) string { return "unix://" + filepath.Join(shortTempDir(t), "none.sock") },
			is: []error{lease.ErrNoEngine, lease.ErrInventory, syscall.ENOENT}, sub: "docker at unix://"},
		{name: "stale socket file", host: staleUnix, is: []error{lease.ErrNoEngine, syscall.ECONNREFUSED}},
		{name: "refused tcp port", host: refusedTCP, is: []error{lease.ErrNoEngine, syscall.ECONNREFUSED}, sub: "(--docker-host)"},
		{name: "accepts, never answers", host: hangingUnix, timeout: 300 * time.Millisecond,
			is: []error{lease.ErrInventory, context.DeadlineExceeded}, isNot: []error{lease.ErrNoEngine}, sub: "no answer within 300ms"},
		{name: "caller cancelled", host: hangingUnix, timeout: time.Minute, cancel: true,
			is: []error{context.Canceled}, isNot: []error{lease.ErrInventory, context.DeadlineExceeded}},
		{name: "HTTP 500", host: func(t *testing.T) string {
			return serveTCP(t, answering(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, `{"message":"engine on fire"}`)
			}))
		}, is: []error{lease.ErrInventory}, isNot: []error{lease.ErrNoEngine}, sub: "engine on fire"},
		{name: "garbled JSON", host: func(t *testing.T) string {
			return serveUnix(t, answering(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `[{"Id":`) }))
		}, is: []error{lease.ErrInventory}, sub: "garbled answer"},
		{name: "not JSON", host: func(t *testing.T) string {
			return serveUnix(t, answering(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>") }))
		}, is: []error{lease.ErrInventory}, sub: "garbled answer"},
		{name: "empty answer", host: func(t *testing.T) string {
			return serveUnix(t, answering(func(w http.ResponseWriter, r *http.Request) {}))
		}, is: []error{lease.ErrInventory}, sub: "garbled answer"},
		{name: "redirect", host: func(t *testing.T) string {
			return serveTCP(t, answering(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://"+strings.TrimPrefix(target, "tcp://")+r.URL.RequestURI(), http.StatusFound)
			}))
		}, is: []error{lease.ErrInventory, errRedirect}, sub: "refused redirect (HTTP 302"},
		{name: "huge list", host: func(t *testing.T) string {
			return serveTCP(t, answering(func(w http.ResponseWriter, r *http.Request) {
				// 1 GiB of containers, streamed until the client hangs up.
				item := []byte(`{"Id":"0123456789abcdef","Names":["/x"],"State":"running","Ports":[]},`)
				w.Write([]byte("["))
				for n := 0; n < 1<<30; n += len(item) {
					if _, err := w.Write(item); err != nil {
						return
					}
				}
			}))
		}, timeout: time.Minute, is: []error{lease.ErrInventory, errTooLarge{ListLimit}}, sub: "answer larger than 64 MiB"},
		{name: "huge announced list", host: func(t *testing.T) string {
			return serveTCP(t, answering(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", fmt.Sprint(1<<30))
				w.Write([]byte("[]"))
			}))
		}, is: []error{lease.ErrInventory, errTooLarge{ListLimit}}},
		{name: "host IP garbage in list", host: func(t *testing.T) string {
			return serveTCP(t, &fakeEngine{list: `[{"Id":"abc","State":"running","Ports":[{"IP":"garbage","PrivatePort":1,"PublicPort":1,"Type":"tcp"}]}]`})
		}, is: []error{lease.ErrInventory}, sub: `host IP "garbage" is not an IP address`},
		{name: "host IP garbage in inspect", host: func(t *testing.T) string {
			return serveTCP(t, &fakeEngine{list: exitedList,
				inspect: map[string]string{"abc": `{"HostConfig":{"PortBindings":{"80/tcp":[{"HostIp":"garbage","HostPort":"80"}]}}}`}})
		}, is: []error{lease.ErrInventory}, sub: "garbage"},
		{name: "inspect 404 not from the engine", host: func(t *testing.T) string {
			return serveTCP(t, answering(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v1.41/containers/json" {
					io.WriteString(w, exitedList)
					return
				}
				http.NotFound(w, r)
			}))
		}, is: []error{lease.ErrInventory}, sub: "inspect x"},
		{name: "inspect 500", host: func(t *testing.T) string {
			return serveTCP(t, answering(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v1.41/containers/json" {
					io.WriteString(w, exitedList)
					return
				}
				http.Error(w, "busy", http.StatusInternalServerError)
			}))
		}, is: []error{lease.ErrInventory}, sub: "inspect x"},
		{name: "container ID unusable in a path", host: func(t *testing.T) string {
			return serveTCP(t, &fakeEngine{list: `[{"Id":"../../x","State":"exited","Ports":[]}]`})
		}, is: []error{lease.ErrInventory}, sub: `unusable container ID "../../x"`},
		{name: "a TLS alert to plain HTTP", host: func(t *testing.T) string {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Read(make([]byte, 4096))
					c.Write([]byte("\x15\x03\x01\x00\x02\x02\x28"))
					c.Close()
				}
			}()
			return "tcp://" + l.Addr().String()
		}, is: []error{lease.ErrInventory}, isNot: []error{lease.ErrNoEngine}, sub: "malformed HTTP response"},
		{name: "unsupported endpoint", host: func(*testing.T) string { return "ssh://me@host" },
			is: []error{lease.ErrEndpoint}, isNot: []error{lease.ErrInventory}, sub: "(from --docker-host)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newTestInventory(t, tt.host(t), cmp.Or(tt.timeout, 5*time.Second))
			ctx := context.Background()
			if tt.cancel {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
				time.AfterFunc(100*time.Millisecond, cancel)
			}
			hs, err := inv.Holders(ctx)
			if err == nil {
				t.Fatalf("Holders() = %v, nil, want an error", hs)
			}
			t.Logf("Holders() = %v", err)
			for _, e := range tt.is {
				if !errors.Is(err, e) {
					t.Errorf("Holders() = %v, want an error wrapping %q", err, e)
				}
			}
			for _, e := range tt.isNot {
				if errors.Is(err, e) {
					t.Errorf("Holders() = %v, want an error not wrapping %q", err, e)
				}
			}
			if !strings.Contains(err.Error(), tt.sub) {
				t.Errorf("Holders() = %v, want a message containing %q", err, tt.sub)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("Holders() = %q, want one line", err)
			}
		})
	}
	if paths, _ := redirectTarget.requests(); len(paths) > 0 {
		t.Errorf("the redirect was followed: %q", paths)
	}
}

func TestEngineErrors(t *testing.T) {
	inv := newTestInventory(t, "unix://"+filepath.Join(shortTempDir(t), "none.sock"), 5*time.Second)
	e, err := inv.Engine(context.Background())
	if !errors.Is(err, lease.ErrNoEngine) || e.Endpoint.Source != "--docker-host" || !strings.HasSuffix(e.Endpoint.Host, "none.sock") {
		t.Errorf("Engine() = %+v, %v, want ErrNoEngine with the endpoint filled in", e, err)
	}
	inv = newTestInventory(t, hangingUnix(t), 200*time.Millisecond)
	if _, err := inv.Engine(context.Background()); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, lease.ErrInventory) {
		t.Errorf("Engine() = %v, want ErrInventory and DeadlineExceeded", err)
	}
	inv = newTestInventory(t, "npipe:////./pipe/docker_engine", time.Second)
	if e, err := inv.Engine(context.Background()); !errors.Is(err, lease.ErrEndpoint) || e.Endpoint.Source != "--docker-host" {
		t.Errorf("Engine() = %+v, %v, want ErrEndpoint naming the flag", e, err)
	}
}

// TestClassify covers the failures a test running as root cannot
// provoke, on synthetic errors.
func TestClassify(t *testing.T) {
	ep := Endpoint{Host: DefaultHost, Source: "default"}
	dialErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", errno)}
	}
	live := context.Background()
	cancelled, cancel := context.WithCancel(live)
	cancel()
	expired, cancel2 := context.WithDeadline(live, time.Now().Add(-time.Second))
	defer cancel2()
	other := errors.New("something else")
	tests := []struct {
		name           string
		outer, bounded context.Context
		st             dialState
		is, isNot      []error
	}{
		{name: "permission denied", st: dialState{dialErr: dialErr(syscall.EACCES)},
			is: []error{lease.ErrInventory, fs.ErrPermission}, isNot: []error{lease.ErrNoEngine}},
		{name: "no socket", st: dialState{dialErr: dialErr(syscall.ENOENT)}, is: []error{lease.ErrNoEngine}},
		{name: "refused", st: dialState{dialErr: dialErr(syscall.ECONNREFUSED)}, is: []error{lease.ErrNoEngine}},
		{name: "engine went away mid-answer", st: dialState{dialErr: dialErr(syscall.ECONNREFUSED), connected: true},
			is: []error{lease.ErrInventory, other}, isNot: []error{lease.ErrNoEngine}},
		{name: "unreachable network", st: dialState{dialErr: dialErr(syscall.ENETUNREACH)},
			is: []error{lease.ErrInventory}, isNot: []error{lease.ErrNoEngine}},
		{name: "deadline", bounded: expired, st: dialState{dialErr: dialErr(syscall.ENOENT)},
			is: []error{lease.ErrInventory, context.DeadlineExceeded}, isNot: []error{lease.ErrNoEngine}},
		{name: "caller cancelled", outer: cancelled, bounded: cancelled,
			is: []error{context.Canceled}, isNot: []error{lease.ErrInventory}},
		{name: "caller's own deadline", outer: expired, bounded: expired,
			is: []error{context.DeadlineExceeded}, isNot: []error{lease.ErrInventory}},
		{name: "answer failed", is: []error{lease.ErrInventory, other}, isNot: []error{lease.ErrNoEngine}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classifyErr(ep, 5*time.Second, cmp.Or(tt.outer, live), cmp.Or(tt.bounded, live), tt.st, other)
			t.Logf("classifyErr() = %v", err)
			for _, e := range tt.is {
				if !errors.Is(err, e) {
					t.Errorf("classifyErr() = %v, want an error wrapping %q", err, e)
				}
			}
			for _, e := range tt.isNot {
				if errors.Is(err, e) {
					t.Errorf("classifyErr() = %v, want an error not wrapping %q", err, e)
				}
			}
			if !strings.Contains(err.Error(), "docker at unix:///var/run/docker.sock (default)") {
				t.Errorf("classifyErr() = %v, want the endpoint and its source named", err)
			}
		})
	}
}

func TestAnswerLimits(t *testing.T) {
	const id = "abcdef0123456789"
	big := `{"Id":"` + id + `","HostConfig":{"PortBindings":{}},"Pad":"` + strings.Repeat("x", 2000) + `"}`
	list := `[{"Id":"` + id + `","Names":["/x"],"State":"exited","Ports":[]}]`
	tests := []struct {
		name                   string
		listLimit, answerLimit int64
		err                    error
	}{
		{name: "within both", listLimit: 1024, answerLimit: 4096},
		{name: "inspect too large", listLimit: 1024, answerLimit: 1024, err: errTooLarge{1024}},
		{name: "list too large", listLimit: 16, answerLimit: 4096, err: errTooLarge{16}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newTestInventory(t, serveTCP(t, &fakeEngine{list: list, inspect: map[string]string{id: big}}), 5*time.Second)
			inv.listLimit, inv.answerLimit = tt.listLimit, tt.answerLimit
			_, err := inv.Holders(context.Background())
			if tt.err == nil && err != nil || tt.err != nil && (!errors.Is(err, tt.err) || !errors.Is(err, lease.ErrInventory)) {
				t.Errorf("Holders() = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestLimitedBody(t *testing.T) {
	tests := []struct {
		body  string
		limit int64
		err   bool
	}{
		{"", 0, false},
		{"abc", 3, false},
		{"abc", 4, false},
		{"abcd", 3, true},
		{strings.Repeat("x", 100000), 99999, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d bytes, limit %d", len(tt.body), tt.limit), func(t *testing.T) {
			b := &limitedBody{rc: io.NopCloser(strings.NewReader(tt.body)), n: tt.limit, limit: tt.limit}
			got, err := io.ReadAll(b)
			if tt.err {
				if !errors.Is(err, errTooLarge{tt.limit}) {
					t.Errorf("ReadAll(%d bytes, limit %d) = %v, want errTooLarge", len(tt.body), tt.limit, err)
				}
				return
			}
			if err != nil || string(got) != tt.body {
				t.Errorf("ReadAll(%d bytes, limit %d) = %d bytes, %v, want all of them", len(tt.body), tt.limit, len(got), err)
			}
		})
	}
}

// realInventory is an Inventory of the engine this machine runs, or a
// skip when none answers (a failure under ALIASLEASE_TEST_DOCKER=1).
func realInventory(t *testing.T) (*Inventory, Engine) {
	t.Helper()
	inv := New(Config{Timeout: 10 * time.Second})
	e, err := inv.Engine(context.Background())
	if err != nil {
		if os.Getenv("ALIASLEASE_TEST_DOCKER") == "1" {
			t.Fatalf("Engine() = %v, and ALIASLEASE_TEST_DOCKER=1 wants a Docker engine", err)
		}
		t.Skipf("no Docker engine answers (set ALIASLEASE_TEST_DOCKER=1 to make this a failure): %v", err)
	}
	return inv, e
}

// apiLess compares API versions "1.NN".
func apiLess(a, b string) bool {
	var a1, a2, b1, b2 int
	fmt.Sscanf(a, "%d.%d", &a1, &a2)
	fmt.Sscanf(b, "%d.%d", &b1, &b2)
	return a1 < b1 || a1 == b1 && a2 < b2
}

func TestRealEngineNegotiates(t *testing.T) {
	inv, e := realInventory(t)
	t.Logf("engine %s, API %s, spoken %s, at %s (%s)", e.Version, e.APIVersion, e.ClientAPIVersion, e.Endpoint.Host, e.Endpoint.Source)
	if e.Version == "" || e.APIVersion == "" || e.ClientAPIVersion == "" {
		t.Fatalf("Engine() = %+v, want versions", e)
	}
	// The client speaks the engine's version, or its own newest (1.51
	// for docker/docker v28.5.2) when the engine's is newer still.
	if apiLess(e.APIVersion, e.ClientAPIVersion) || !apiLess("1.51", e.APIVersion) && e.ClientAPIVersion != e.APIVersion {
		t.Errorf("Engine() speaks API %s to an engine of API %s", e.ClientAPIVersion, e.APIVersion)
	}
	if _, err := inv.Holders(context.Background()); err != nil {
		t.Errorf("Holders() = %v, want no error", err)
	}
}
