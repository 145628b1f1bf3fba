package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// fill creates the database dst with n leases made through the library:
// one Store opened once, then one Store.Acquire per lease (each its own
// transaction, RenewOnly false, Snapshot nil), slug(j) on the address
// first+j, so that lease j sits where the lowest-free rule puts it when
// the pool fills in order.
//
// Two things keep 65,000 leases fast enough, both measured
// (test/bench/README.md): each request names a pool of the one address
// the whole pool's lowest-free walk would pick, so that the walk is not
// repeated over every lease already made (quadratic: ~13 min for
// 65,000); and the database is built on tmpfs (/dev/shm) when there is
// one, where bbolt's two fdatasyncs per commit cost nothing, then copied
// to dst and synced. It returns how long the Acquire calls took.
func fill(dst string, first netip.Addr, n int, slug func(j int) string, now time.Time) time.Duration {
	build := func(dir string) (string, time.Duration, error) {
		path := filepath.Join(dir, "fill.db")
		s, err := lease.Open(path, &lease.Options{Create: true, Command: "bench-fill"})
		if err != nil {
			return "", 0, err
		}
		defer s.Close()
		a := first
		start := time.Now()
		for j := range n {
			res, err := s.Acquire(lease.AcquireRequest{Slug: slug(j), Pool: lease.MustParsePool(a.String()), Now: now})
			if err != nil {
				return "", 0, fmt.Errorf("lease %d: %w", j, err)
			}
			if res.Lease.Alias != a {
				return "", 0, fmt.Errorf("lease %d got %s, want %s", j, res.Lease.Alias, a)
			}
			if (j+1)%10000 == 0 {
				logf("  filled %d of %d leases (%.1f s)", j+1, n, time.Since(start).Seconds())
			}
			a = a.Next()
		}
		took := time.Since(start)
		ls, err := s.Leases()
		if err != nil {
			return "", 0, err
		}
		if len(ls) != n {
			return "", 0, fmt.Errorf("%d leases after filling %d", len(ls), n)
		}
		return path, took, nil
	}
	var path string
	var took time.Duration
	var err error
	if dir, derr := os.MkdirTemp("/dev/shm", "aliaslease-bench-fill"); derr == nil {
		defer os.RemoveAll(dir)
		if path, took, err = build(dir); err != nil {
			logf("filling on tmpfs failed (%v); filling on disk", err)
		}
	}
	if path == "" {
		dir := filepath.Join(tmpDir, fmt.Sprintf("fill-%d", time.Now().UnixNano()))
		if err := os.Mkdir(dir, 0o700); err != nil {
			fatalf("%v", err)
		}
		defer os.RemoveAll(dir)
		if path, took, err = build(dir); err != nil {
			fatalf("filling %s: %v", dst, err)
		}
	}
	copyDB(path, dst)
	return took
}

// copyDB copies the database src and its lock file to dst (creating
// dst's directory 0700) and syncs them and the directory, so that the
// next fdatasync of a measured command does not pay for the copy's
// dirty pages.
func copyDB(src, dst string) {
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fatalf("%v", err)
	}
	for _, suffix := range []string{"", ".lock"} {
		os.Remove(dst + suffix)
		in, err := os.Open(src + suffix)
		if err != nil {
			if suffix == ".lock" && os.IsNotExist(err) {
				continue
			}
			fatalf("%v", err)
		}
		out, err := os.OpenFile(dst+suffix, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			fatalf("%v", err)
		}
		if _, err := io.Copy(out, in); err != nil {
			fatalf("copying %s: %v", src, err)
		}
		if err := out.Sync(); err != nil {
			fatalf("%v", err)
		}
		out.Close()
		in.Close()
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
