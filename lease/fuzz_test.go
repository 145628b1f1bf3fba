package lease

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzOpen opens arbitrary files as databases: Open, and every operation
// on a file it accepts, must return (ErrCorrupt for damage), never panic,
// crash or hang.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	valid := filepath.Join(dir, "valid.db")
	s, err := openStore(valid, &storeOptions{Create: true})
	if err != nil {
		f.Fatal(err)
	}
	for _, slug := range []string{"a", "b", "c"} {
		if _, err := s.Acquire(acquireRequest{Slug: slug, Pool: MustParsePool(DefaultPool), Now: t0}); err != nil {
			f.Fatal(err)
		}
	}
	s.Close()
	good, err := os.ReadFile(valid)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:2*pageSize])
	f.Add(good[:5*pageSize])
	f.Add([]byte{})
	f.Add(make([]byte, 8192))
	f.Fuzz(func(t *testing.T, content []byte) {
		path := filepath.Join(t.TempDir(), "leases.db")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			s, err := openStore(path, &storeOptions{Create: true, LockTimeout: time.Second})
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Errorf("Open = %v, want ErrCorrupt or success", err)
				}
				return
			}
			defer s.Close()
			s.Check()
			s.Leases()
			s.Acquire(acquireRequest{Slug: "fuzz", Pool: MustParsePool(DefaultPool), Now: t0})
			s.Release("a", 0)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Open and its operations hung on a %d-byte file", len(content))
		}
	})
}
