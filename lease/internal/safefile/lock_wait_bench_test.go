package safefile

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkLockWakeUp measures how long a waiter takes to get the lock
// after its holder, of this package, releases it: the median and the 90th
// percentile over b.N hand-overs, as ns/wake metrics (ns/op is the whole
// round, mostly the waiter's wait). The waiter has waited 15 ms first, so
// that polling has reached its longest delay, as under load.
func BenchmarkLockWakeUp(b *testing.B) {
	for _, mode := range []string{"inotify", "polling"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "polling" {
				polling(b)
			}
			d := lockDir(b)
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				h, err := d.Lock(context.Background(), lockName, LockOptions{Timeout: time.Second})
				if err != nil {
					b.Fatal(err)
				}
				got := make(chan time.Time, 1)
				go func() {
					w, err := d.Lock(context.Background(), lockName, LockOptions{Timeout: 10 * time.Second})
					at := time.Now()
					if err != nil {
						b.Error(err)
					}
					w.Unlock()
					got <- at
				}()
				time.Sleep(15 * time.Millisecond)
				released := time.Now()
				h.Unlock()
				lat = append(lat, (<-got).Sub(released))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2]), "ns/wake-median")
			b.ReportMetric(float64(lat[len(lat)*9/10]), "ns/wake-p90")
		})
	}
}

// BenchmarkLockHandOff64 has 64 waiters take the lock in turn, each
// holding it for 1 ms, as 64 bottles starting at once do: ns/op is the
// time until all of them had it (at best 64 ms).
func BenchmarkLockHandOff64(b *testing.B) {
	for _, mode := range []string{"inotify", "polling"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "polling" {
				polling(b)
			}
			d := lockDir(b)
			for b.Loop() {
				var wg sync.WaitGroup
				for range 64 {
					wg.Go(func() {
						h, err := d.Lock(context.Background(), lockName, LockOptions{Timeout: time.Minute})
						if err != nil {
							b.Error(err)
							return
						}
						time.Sleep(time.Millisecond)
						h.Unlock()
					})
				}
				wg.Wait()
			}
		})
	}
}
