package lease

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestHolderRecord checks that a holder entry reads back as written, and
// that one a newer or damaged binary wrote holds nothing.
func TestHolderRecord(t *testing.T) {
	for _, h := range []ProcessHolder{
		{Slug: "a", Generation: 7, RunID: "0123456789abcdef", Kind: TreeCgroup, Cgroup: "a.7.0123456789abcdef"},
		{Slug: "b.c-d", Generation: 1 << 40, RunID: "r", Kind: TreeProcGroup, PGID: 4242, Start: 987654321},
	} {
		got, ok := decodeHolder(holderKey(h.Slug, h.RunID), encodeHolder(h))
		if !ok || !reflect.DeepEqual(got, h) {
			t.Errorf("decodeHolder(encodeHolder(%+v)) = %+v, %v; want it back", h, got, ok)
		}
	}
	good := encodeHolder(ProcessHolder{Slug: "a", RunID: "r", Kind: TreeCgroup, Cgroup: "x"})
	for name, c := range map[string]struct{ k, v []byte }{
		"no separator":  {[]byte("ar"), good},
		"short":         {holderKey("a", "r"), good[:holderRecordV1Len-1]},
		"newer version": {holderKey("a", "r"), append([]byte{2}, good[1:]...)},
		"unknown kind":  {holderKey("a", "r"), append(append(bytes.Clone(good[:9]), 9), good[10:]...)},
	} {
		if h, ok := decodeHolder(c.k, c.v); ok {
			t.Errorf("decodeHolder(%s) = %+v, true; want nothing held", name, h)
		}
	}
}

// TestHolderJoin checks that the join beside a walk of the leases gives
// each slug its own entries only: "a" and "a-b" and "a.b" share a prefix.
func TestHolderJoin(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "leases.db"))
	want := map[string][]string{"a": {"1", "2"}, "a-b": {"3"}, "a.b": nil, "b": {"4"}}
	err := s.update(func(tx *bolt.Tx) error {
		for slug, ids := range want {
			for _, id := range ids {
				if err := putHolder(tx, ProcessHolder{Slug: slug, Generation: 1, RunID: id, Kind: TreeProcGroup, PGID: 1}); err != nil {
					return err
				}
			}
		}
		return putHolder(tx, ProcessHolder{Slug: "a", Generation: 2, RunID: "old", Kind: TreeProcGroup, PGID: 1})
	})
	if err != nil {
		t.Fatal(err)
	}
	s.view(func(tx *bolt.Tx) error {
		j := joinHolders(tx)
		for _, slug := range []string{"a", "a-b", "a.b", "b"} { // storage order
			var got []string
			for _, h := range j.processes([]byte(slug), 1) {
				got = append(got, h.RunID)
			}
			if !reflect.DeepEqual(got, want[slug]) {
				t.Errorf("join of %q = %v, want %v", slug, got, want[slug])
			}
			if hs, _ := holdersOf(tx, slug, 1); len(hs) != len(want[slug]) {
				t.Errorf("holdersOf(%q) = %v, want %d entries", slug, hs, len(want[slug]))
			}
		}
		return nil
	})
}

// FuzzDecodeHolder: no entry, however damaged, makes the decoder fail
// other than by holding nothing, and what it reads encodes back alike.
func FuzzDecodeHolder(f *testing.F) {
	f.Add([]byte("a\x00r"), encodeHolder(ProcessHolder{Slug: "a", RunID: "r", Generation: 3, Kind: TreeCgroup, Cgroup: "a.3.r"}))
	f.Add([]byte("a"), []byte{1})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		h, ok := decodeHolder(k, v)
		if !ok {
			return
		}
		if again, ok2 := decodeHolder(holderKey(h.Slug, h.RunID), encodeHolder(h)); !ok2 || !reflect.DeepEqual(again, h) {
			t.Errorf("decodeHolder(%q, %x) = %+v; encoded again it reads %+v, %v", k, v, h, again, ok2)
		}
	})
}
