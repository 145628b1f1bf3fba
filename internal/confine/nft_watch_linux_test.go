//go:build linux

package confine

import (
	"context"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/google/nftables"
)

// nftWaitChange waits for one onChange call and returns when it came.
func nftWaitChange(t *testing.T, changes <-chan time.Time, what string) time.Time {
	t.Helper()
	select {
	case at := <-changes:
		return at
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: Watch did not call onChange within 5 s", what)
		return time.Time{}
	}
}

func nftDrain(changes <-chan time.Time) {
	for {
		select {
		case <-changes:
		default:
			return
		}
	}
}

func nftMedian(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func TestNftWatch(t *testing.T) {
	if !nftInNetNS(t) {
		return
	}
	cg := nftNewCgroup(t, nil)
	f := HostFirewall()
	nftMustInstall(t, f, nftRules(cg))
	changes := make(chan time.Time, 64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done, err := f.Watch(ctx, func() { changes <- time.Now() })
	if err != nil {
		t.Fatalf("Watch() = %v", err)
	}
	// Some other table changing is none of ours.
	nftRun(t, "nft", "add", "table", "ip", "someone-else")
	nftRun(t, "nft", "delete", "table", "ip", "someone-else")
	select {
	case <-changes:
		t.Errorf("onChange called for a table not ours")
	case <-time.After(200 * time.Millisecond):
	}

	breakers := []struct {
		name string
		run  func() error
	}{
		{"nft delete table", func() error { return exec.Command("nft", "delete", "table", "inet", TableName).Run() }},
		{"a netlink DelTable", func() error {
			c, err := nftables.New()
			if err != nil {
				return err
			}
			c.DelTable(ourTable)
			return c.Flush()
		}},
	}
	for _, b := range breakers {
		lat := nftWatchLatency(t, f, cg, changes, b.name, b.run)
		t.Logf("Watch noticed %s after a median %v (min %v, max %v, n=%d, timed from before it started)",
			b.name, nftMedian(lat), slices.Min(lat), slices.Max(lat), len(lat))
	}
	cancel()
	select {
	case err, ok := <-done:
		if !ok || err != nil {
			t.Errorf("after cancel, <-done = %v, %v, want nil, true", err, ok)
		}
		if _, ok := <-done; ok {
			t.Errorf("done not closed after its value")
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Watch did not end within 5 s of its context")
	}
}

// nftWatchLatency breaks the table with run 21 times, each time waiting
// for the watch to notice and installing again; it returns how long each
// notice took from before run started.
func nftWatchLatency(t *testing.T, f *Firewall, cg nftCgroup, changes <-chan time.Time, name string, run func() error) []time.Duration {
	t.Helper()
	var lat []time.Duration
	for range 21 {
		start := time.Now()
		if err := run(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		lat = append(lat, nftWaitChange(t, changes, name).Sub(start))
		if ok, err := f.Present(cg.id); ok || err != nil {
			t.Fatalf("after %s, Present = %v, %v, want false, nil", name, ok, err)
		}
		nftMustInstall(t, f, nftRules(cg))
		nftWaitChange(t, changes, "Install") // our own change counts too
		nftDrain(changes)
	}
	return lat
}
