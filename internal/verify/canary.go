package verify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// Spec names an address to open a canary on.
type Spec struct {
	Name string // what the report calls it: "own alias", "127.0.0.1", "bridge docker0"
	Addr netip.Addr
}

// Result is what one canary received during a verify.
type Result struct {
	Name       string
	Addr       netip.Addr
	TCP, UDP   Target // where it listened
	TCPReached bool   // a TCP connection carried the nonce
	UDPReached bool   // a UDP datagram carried it
	Stray      int    // connections and datagrams without it: never counted
}

// Reached says whether the canary received the nonce at all.
func (r Result) Reached() bool { return r.TCPReached || r.UDPReached }

// Skipped is a canary that could not be opened (an address the host
// does not have, ::1 on a host without IPv6).
type Skipped struct {
	Spec Spec
	Err  error
}

// Canaries are the listeners of one verify.
type Canaries struct {
	want    []byte
	mu      sync.Mutex
	results []Result
	tcp     []*net.TCPListener
	udp     []*net.UDPConn
	loops   sync.WaitGroup // accept and read loops
	conns   sync.WaitGroup // accepted connections being read
	skipped []Skipped
}

// readTimeout bounds the read of one connection's greeting.
const readTimeout = 2 * time.Second

// sharedPortTries is how many times Open tries to put every canary on one
// port before it gives each a port of its own.
const sharedPortTries = 8

// Open opens a TCP listener and a UDP socket on each spec's address, all
// on one ephemeral port where it can (so that a bottle reaching the host
// through a gateway, --via, lands on a canary whichever host address its
// VMM forwards the gateway to), else each on a port of its own. A spec
// whose address cannot be bound is left out and named in Skipped.
func Open(specs []Spec, nonce string) *Canaries {
	for range sharedPortTries {
		c := &Canaries{want: greeting(nonce)}
		if c.openAll(specs, true) {
			return c
		}
		c.Close(0)
	}
	c := &Canaries{want: greeting(nonce)}
	c.openAll(specs, false)
	return c
}

// openAll opens the canaries of specs; with shared, all on the port the
// first one got, and it returns false when that port is taken on another
// address.
func (c *Canaries) openAll(specs []Spec, shared bool) bool {
	var port uint16
	for _, s := range specs {
		got, err := c.open(s, port, shared)
		switch {
		case err == nil && shared && port == 0:
			port = got
		case shared && errors.Is(err, syscall.EADDRINUSE):
			return false
		case err != nil:
			c.skipped = append(c.skipped, Skipped{Spec: s, Err: err})
		}
	}
	return true
}

// open opens one canary on port (0: an ephemeral one) and returns its
// port. The UDP socket takes the TCP listener's port; when that is taken
// and the port need not be shared, one of its own.
func (c *Canaries) open(s Spec, port uint16, shared bool) (uint16, error) {
	l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(s.Addr, port)))
	if err != nil {
		return 0, err
	}
	port = netip.MustParseAddrPort(l.Addr().String()).Port()
	u, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(s.Addr, port)))
	if err != nil && !shared {
		u, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(s.Addr, 0)))
	}
	if err != nil {
		l.Close()
		return 0, err
	}
	i := len(c.results)
	c.results = append(c.results, Result{Name: s.Name, Addr: s.Addr,
		TCP: Target{"tcp", netip.AddrPortFrom(s.Addr, port)},
		UDP: Target{"udp", netip.AddrPortFrom(s.Addr, netip.MustParseAddrPort(u.LocalAddr().String()).Port())}})
	c.tcp, c.udp = append(c.tcp, l), append(c.udp, u)
	c.loops.Add(2)
	go c.accept(i, l)
	go c.read(i, u)
	return port, nil
}

// Skipped returns the canaries that could not be opened.
func (c *Canaries) Skipped() []Skipped { return c.skipped }

// Targets returns every socket of the canaries, for the probe.
func (c *Canaries) Targets() []Target {
	var ts []Target
	for _, r := range c.results {
		ts = append(ts, r.TCP, r.UDP)
	}
	return ts
}

func (c *Canaries) accept(i int, l *net.TCPListener) {
	defer c.loops.Done()
	for {
		conn, err := l.Accept()
		if err != nil {
			return // closed, or the settling time is over
		}
		c.conns.Add(1)
		go func() {
			defer c.conns.Done()
			defer conn.Close()
			conn.SetReadDeadline(time.Now().Add(readTimeout))
			got := make([]byte, len(c.want))
			_, err := io.ReadFull(conn, got)
			c.mark(i, "tcp", err == nil && bytes.Equal(got, c.want))
		}()
	}
}

func (c *Canaries) read(i int, u *net.UDPConn) {
	defer c.loops.Done()
	buf := make([]byte, 512)
	for {
		n, _, err := u.ReadFromUDPAddrPort(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) {
			return
		}
		if err == nil {
			c.mark(i, "udp", bytes.Equal(buf[:n], c.want))
		}
	}
}

func (c *Canaries) mark(i int, proto string, nonce bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &c.results[i]
	switch {
	case !nonce:
		r.Stray++
	case proto == "tcp":
		r.TCPReached = true
	default:
		r.UDPReached = true
	}
}

// Close waits settle for what is still on its way (connections queued,
// datagrams sent just before the probe ended), closes every canary and
// returns what each received.
func (c *Canaries) Close(settle time.Duration) []Result {
	end := time.Now().Add(settle)
	for _, l := range c.tcp {
		l.SetDeadline(end)
	}
	for _, u := range c.udp {
		u.SetReadDeadline(end)
	}
	c.loops.Wait()
	c.conns.Wait()
	for _, l := range c.tcp {
		l.Close()
	}
	for _, u := range c.udp {
		u.Close()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Result(nil), c.results...)
}

// Verdict judges the results of a verify for the bottle whose own alias
// is own: VerdictIsolated (own reached, nothing else), VerdictLeaky (any
// other canary reached; leaks names them) or VerdictCutOff (none).
func Verdict(results []Result, own netip.Addr) (verdict string, leaks []string) {
	ownReached := false
	for _, r := range results {
		switch {
		case !r.Reached():
		case r.Addr == own:
			ownReached = true
		default:
			leaks = append(leaks, fmt.Sprintf("%s (%s)", r.Name, r.Addr))
		}
	}
	switch {
	case len(leaks) > 0:
		return Leaky, leaks
	case ownReached:
		return Isolated, nil
	}
	return CutOff, nil
}

// The verdicts, as lease records them.
const (
	Isolated = lease.VerdictIsolated
	Leaky    = lease.VerdictLeaky
	CutOff   = lease.VerdictCutOff
)
