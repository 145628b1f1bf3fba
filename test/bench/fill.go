package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// fill creates the database dst with n leases made through the library's
// door: Manager.Recover from an inventory that lists one labelled holder
// per lease, slug(j) on the address first+j, so that lease j sits where
// the lowest-free rule puts it when the pool fills in order. Recover
// writes them all in the one transaction that creates the file (the
// filler used to make one Acquire per lease, through the store the
// package no longer exports), so 65,000 leases take seconds.
//
// The database is built on tmpfs (/dev/shm) when there is one, then
// copied to dst and synced. It returns how long the Recover call took.
func fill(dst string, first netip.Addr, n int, slug func(j int) string, now time.Time) time.Duration {
	build := func(dir string) (string, time.Duration, error) {
		path := filepath.Join(dir, "fill.db")
		hs := make(listed, n)
		a := first
		for j := range n {
			hs[j] = lease.Holder{Alias: a, Slug: slug(j), ID: fmt.Sprintf("fill-%d", j), State: "exited"}
			a = a.Next()
		}
		m := &lease.Manager{Path: path, Pool: lease.MustParsePool(first.String() + "-" + a.Prev().String()),
			Inventory: hs, Mode: lease.InventoryOn, Now: func() time.Time { return now }, Command: "bench-fill"}
		start := time.Now()
		res, err := m.Recover(context.Background(), false)
		if err != nil {
			return "", 0, err
		}
		took := time.Since(start)
		if len(res.Leases) != n {
			return "", 0, fmt.Errorf("%d leases after filling %d (%v)", len(res.Leases), n, res.Skipped)
		}
		logf("  filled %d leases (%.1f s)", n, took.Seconds())
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

// listed is an inventory that lists the holders it was made of.
type listed []lease.Holder

func (l listed) Holders(context.Context) ([]lease.Holder, error) {
	return l, nil
}
