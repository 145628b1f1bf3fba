package listeners

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// benchSpec is 10,000 sockets of another process: 1,000 TCP listeners on
// four of the sixteen pool aliases, 7,000 on eight addresses outside the
// pool, 2,000 bound UDP sockets outside it.
func benchSpec() (spec string, inPool int) {
	var items []string
	for i := 1; i <= 4; i++ {
		items = append(items, fmt.Sprintf("tcp 127.0.177.%d:0 x250", i))
	}
	for i := 1; i <= 8; i++ {
		items = append(items, fmt.Sprintf("tcp 127.0.178.%d:0 x875", i))
	}
	for i := 1; i <= 4; i++ {
		items = append(items, fmt.Sprintf("udp 127.0.179.%d:0 x500", i))
	}
	return strings.Join(items, ","), 1000
}

// BenchmarkBound measures Bound for a pool of 16 aliases with 10,000
// sockets on the host, read through sock_diag with the kernel's address
// filter, through sock_diag with the state filter alone (every address
// copied out, filtered here), and from /proc/net. It reports the median of
// the iterations besides the mean.
func BenchmarkBound(b *testing.B) {
	spec, inPool := benchSpec()
	startHolder(b, spec)
	pool := prefixes(b, "127.0.177.0/28")
	everything := prefixes(b, "0.0.0.0/0", "::/0")
	runs := []struct {
		name   string
		v      via
		within []netip.Prefix
	}{
		{"sock_diag", viaDiag, pool},
		{"sock_diag_unfiltered", viaDiag, everything},
		{"proc_net", viaProc, pool},
	}
	for _, r := range runs {
		b.Run(r.name, func(b *testing.B) {
			var times []time.Duration
			n := 0
			for b.Loop() {
				start := time.Now()
				socks, err := bound(context.Background(), newSet(r.within), r.v)
				if err != nil {
					b.Fatal(err)
				}
				n = len(keep(socks, newSet(pool), nil))
				times = append(times, time.Since(start))
			}
			if n != inPool {
				b.Fatalf("bound found %d sockets in the pool, want %d", n, inPool)
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds()), "median-µs")
		})
	}
}
