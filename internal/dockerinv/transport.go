package dockerinv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Bounds on the size of one answer. A body past its bound is an error,
// never a truncated success, and at most the bound is ever buffered.
const (
	// ListLimit bounds the container list answer: about 100,000
	// containers of the usual size.
	ListLimit = 64 << 20
	// AnswerLimit bounds any other answer (ping, inspect, version).
	AnswerLimit = 16 << 20
)

// errTooLarge is the error of a body read past its bound.
type errTooLarge struct{ limit int64 }

func (e errTooLarge) Error() string {
	return fmt.Sprintf("answer larger than %d MiB", e.limit>>20)
}

// errRedirect is the error of an answer that redirects.
var errRedirect = errors.New("refused redirect")

// transport is the HTTP transport handed to the Docker client. It dials
// the one endpoint whatever the URL says, refuses redirects (through
// refuseRedirect), bounds every answer, and remembers what went wrong
// below HTTP: the client library folds several dial failures into one
// "Cannot connect" error that keeps no cause, which would leave "nothing
// is there" (no socket, connection refused) indistinguishable from a
// timeout.
type transport struct {
	base                   *http.Transport
	network, addr          string
	listLimit, answerLimit int64

	mu        sync.Mutex
	dialErr   error // the first failed dial
	connected bool  // a dial succeeded
	rtErr     error // the first failure of a round trip
}

// newTransport returns the transport for ep; tc is nil for plain HTTP.
func newTransport(ep Endpoint, tc *tls.Config) (*transport, error) {
	u, err := url.Parse(ep.Host)
	if err != nil {
		return nil, err
	}
	t := &transport{listLimit: ListLimit, answerLimit: AnswerLimit}
	switch u.Scheme {
	case "unix":
		t.network, t.addr = "unix", strings.TrimPrefix(ep.Host, "unix://")
	case "tcp":
		t.network, t.addr = "tcp", u.Host
	default:
		return nil, fmt.Errorf("unsupported endpoint %s", quote(ep.Host))
	}
	t.base = &http.Transport{
		DialContext:         t.dial,
		TLSClientConfig:     tc,
		MaxIdleConnsPerHost: inspectConcurrency,
		DisableCompression:  true, // the bounds apply to what is decoded
		// No proxy: the endpoint is dialled as named.
	}
	return t, nil
}

// httpClient is the http.Client the Docker client uses.
func (t *transport) httpClient() *http.Client {
	return &http.Client{Transport: t, CheckRedirect: refuseRedirect}
}

// refuseRedirect fails any answer that redirects: the Engine API never
// does, and following one could send the request elsewhere.
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	return fmt.Errorf("%w (HTTP %d to %s)", errRedirect, status, quote(req.URL.Redacted()))
}

func (t *transport) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, t.network, t.addr)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		if t.dialErr == nil {
			t.dialErr = err
		}
	} else {
		t.connected = true
	}
	return c, err
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		t.mu.Lock()
		if t.rtErr == nil {
			t.rtErr = err
		}
		t.mu.Unlock()
		return nil, err
	}
	limit := t.answerLimit
	if strings.HasSuffix(req.URL.Path, "/containers/json") {
		limit = t.listLimit
	}
	if resp.ContentLength > limit {
		resp.Body.Close()
		resp.Body, resp.ContentLength = io.NopCloser(errReader{errTooLarge{limit}}), -1
		return resp, nil
	}
	resp.Body = &limitedBody{rc: resp.Body, n: limit, limit: limit}
	return resp, nil
}

// state reports what went wrong below HTTP so far.
func (t *transport) state() dialState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return dialState{dialErr: t.dialErr, connected: t.connected, rtErr: t.rtErr}
}

func (t *transport) close() { t.base.CloseIdleConnections() }

// dialState is what a transport saw below HTTP.
type dialState struct {
	dialErr   error // the first failed dial, nil if none failed
	connected bool  // whether any dial succeeded
	rtErr     error // the first failed round trip, nil if none failed
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// limitedBody fails a read past its bound instead of ending the body
// early, so a truncated answer is never decoded as a complete one.
type limitedBody struct {
	rc       io.ReadCloser
	n, limit int64 // bytes left, and the bound
	err      error // sticky errTooLarge
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.n <= 0 {
		// At the bound: the body must end here.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			b.err = errTooLarge{b.limit}
			return 0, b.err
		}
		return 0, err
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.rc.Read(p)
	b.n -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// belowHTTP is a failure under HTTP as the client library reports it,
// with the message of the transport's own error: the library's wording
// adds the request URL, and for some failures a second line, and drops
// the cause. Both errors stay reachable through errors.Is.
type belowHTTP struct {
	msg  string
	errs []error
}

func (e *belowHTTP) Error() string   { return e.msg }
func (e *belowHTTP) Unwrap() []error { return e.errs }

// connectionFailed rewrites err, an error the client library reports as
// a failed connection, with rtErr, the transport's own first failure (nil
// if it saw none, as for a refused redirect).
func connectionFailed(err, rtErr error) error {
	var ue *url.Error
	switch {
	case rtErr != nil:
		return &belowHTTP{msg: rtErr.Error(), errs: []error{rtErr, err}}
	case errors.As(err, &ue):
		return &belowHTTP{msg: ue.Err.Error(), errs: []error{err}}
	}
	return err
}
