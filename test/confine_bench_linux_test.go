package test

import (
	"crypto/rand"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/internal/confine"
)

// benchConfineEnv is a confineEnv for a benchmark: a database of its own
// and a pool of 8 addresses of a random /24 (Docker off).
func benchConfineEnv(b *testing.B) *confineEnv {
	b.Helper()
	if !isRoot() {
		b.Skip("needs root")
	}
	if _, err := confine.Find(); err != nil {
		b.Skipf("no cgroup2 found: %v", err)
	}
	if err := confineBins(); err != nil {
		b.Fatal(err)
	}
	var r [2]byte
	rand.Read(r[:])
	pool := fmt.Sprintf("127.%d.%d.16-127.%d.%d.23", 1+r[0]%254, r[1], 1+r[0]%254, r[1])
	return &confineEnv{bin: filepath.Join(reachDir, "aliaslease"),
		env: []string{"ALIASLEASE_DB=" + filepath.Join(b.TempDir(), "leases.db"), "ALIASLEASE_DOCKER=off", "ALIASLEASE_POOL=" + pool}}
}

// BenchmarkRunConfine is what --confine costs a run: "run -- true" and
// "run --confine --user nobody -- true" of one slug, whole processes,
// reporting the median wall time of b.N runs (and the mean, as ns/op).
//
//	go test -run '^$' -bench RunConfine -benchtime 51x ./test
func BenchmarkRunConfine(b *testing.B) {
	for _, bc := range []struct {
		name  string
		flags []string
	}{
		{"plain", nil},
		{"confined", []string{"--confine", "--user", "nobody"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := benchConfineEnv(b)
			args := append(append([]string{"run", "--no-ifup"}, bc.flags...), "bench", "--", "true")
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				r := runBin(b, e.bin, e.env, args...)
				took = append(took, time.Since(start))
				if r.code != 0 {
					b.Fatalf("run %v: %v", bc.flags, r)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-median")
		})
	}
}
