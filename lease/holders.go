package lease

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TreeKind says what holds a process holder's tree together.
type TreeKind byte

// The kinds of process trees.
const (
	// TreeCgroup is a cgroup v2 of the run's own: exact.
	TreeCgroup TreeKind = 1
	// TreeProcGroup is a process group of its own, where no cgroup can
	// be had: a descendant that leaves the group is not seen.
	TreeProcGroup TreeKind = 2
)

// ProcessHolder is one process tree that holds a lease while any process
// of it lives: the command of one "aliaslease run" and everything it
// started. A lease can have several (two runs of one slug).
type ProcessHolder struct {
	Slug       string
	Generation uint64 // the lease's: a holder of another generation holds nothing
	RunID      string // names the run; unique among the lease's holders
	Kind       TreeKind
	// Cgroup is the group's directory name in aliaslease's subtree
	// (TreeCgroup).
	Cgroup string
	// PGID is the process group, and Start its leader's start time
	// (clock ticks since boot, from /proc; zero where unknown), so that
	// a reused number is not taken for the run's group (TreeProcGroup).
	PGID  int
	Start uint64
	// Confined is the tree's firewall confinement, nil for none. It is
	// recorded in a bucket of its own beside the holder (see
	// bucketConfinements).
	Confined *Confinement
}

// String names the holder for messages: "cgroup NAME" or "process group N".
func (h ProcessHolder) String() string {
	if h.Kind == TreeCgroup {
		if h.Confined != nil {
			return "confined cgroup " + h.Cgroup
		}
		return "cgroup " + h.Cgroup
	}
	return "process group " + strconv.Itoa(h.PGID)
}

// holder is h as a holder of the alias a.
func (h ProcessHolder) holder(a netip.Addr) Holder {
	return Holder{Kind: HolderProcess, Alias: a, ID: "run:" + h.RunID, Name: h.String(), Slug: h.Slug, State: "running"}
}

// Trees tells whether a process holder's tree still lives, and ends one.
// The isolation package (internal/confine) implements it; the lease
// package only records the trees.
type Trees interface {
	// Alive says whether any process of h's tree lives. An error counts
	// as alive: it can only keep a lease longer.
	Alive(h ProcessHolder) (bool, error)
	// End signals the whole tree (SIGTERM), and kills what is left after
	// killAfter; it returns once the tree is gone or ctx ends.
	End(ctx context.Context, h ProcessHolder, killAfter time.Duration) error
}

// treeAlive says whether h holds its lease: its tree lives, or it cannot
// be told (no Trees, or an error), which only keeps a lease longer.
func treeAlive(t Trees, h ProcessHolder) bool {
	if t == nil {
		return true
	}
	alive, err := t.Alive(h)
	return alive || err != nil
}

// The holders bucket (slug + "\x00" + run id -> record) sits beside the
// leases, as the vacancy bucket does, so that the lease records keep
// version 2's layout; binaries of schema 2 before it ignore the bucket,
// and a release or reclaim of theirs leaves entries of a generation no
// lease has, which hold nothing (and which a sweep removes). A record
// is a version byte (1), the generation, the kind, the PGID (4 bytes),
// the leader's start time (8 bytes), and the cgroup's name in the rest.
var bucketHolders = []byte("holders")

const holderRecordV1, holderRecordV1Len = 1, 1 + 8 + 1 + 4 + 8

func holderKey(slug, runID string) []byte {
	return append(append([]byte(slug), 0), runID...)
}

func encodeHolder(h ProcessHolder) []byte {
	b := make([]byte, 0, holderRecordV1Len+len(h.Cgroup))
	b = append(b, holderRecordV1)
	b = binary.BigEndian.AppendUint64(b, h.Generation)
	b = append(b, byte(h.Kind))
	b = binary.BigEndian.AppendUint32(b, uint32(h.PGID))
	b = binary.BigEndian.AppendUint64(b, h.Start)
	return append(b, h.Cgroup...)
}

// decodeHolder reads an entry; ok is false for one it cannot read, which
// holds nothing.
func decodeHolder(k, v []byte) (h ProcessHolder, ok bool) {
	slug, id, found := bytes.Cut(k, []byte{0})
	if !found || len(v) < holderRecordV1Len || v[0] != holderRecordV1 {
		return ProcessHolder{}, false
	}
	h = ProcessHolder{
		Slug:       string(slug),
		RunID:      string(id),
		Generation: binary.BigEndian.Uint64(v[1:]),
		Kind:       TreeKind(v[9]),
		PGID:       int(binary.BigEndian.Uint32(v[10:])),
		Start:      binary.BigEndian.Uint64(v[14:]),
		Cgroup:     string(v[holderRecordV1Len:]),
	}
	return h, h.Kind == TreeCgroup || h.Kind == TreeProcGroup
}

// holdersOf returns slug's holder entries of the given generation, and
// the keys of its entries that hold nothing (another generation, or
// unreadable).
func holdersOf(tx *bolt.Tx, slug string, gen uint64) (hs []ProcessHolder, void [][]byte) {
	b := tx.Bucket(bucketHolders)
	if b == nil {
		return nil, nil
	}
	prefix := holderKey(slug, "")
	c, conf := b.Cursor(), tx.Bucket(bucketConfinements)
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if h, ok := decodeHolder(k, v); ok && h.Generation == gen {
			confinementOf(conf, &h)
			hs = append(hs, h)
		} else {
			void = append(void, bytes.Clone(k))
		}
	}
	return hs, void
}

// putHolder records h and its confinement, creating the buckets in a
// database made before them.
func putHolder(tx *bolt.Tx, h ProcessHolder) error {
	b, err := tx.CreateBucketIfNotExists(bucketHolders)
	if err != nil {
		return err
	}
	if err := b.Put(holderKey(h.Slug, h.RunID), encodeHolder(h)); err != nil {
		return err
	}
	return putConfinement(tx, h)
}

// deleteHolders removes the entries with these keys, and their
// confinements.
func deleteHolders(tx *bolt.Tx, keys [][]byte) error {
	for _, name := range [][]byte{bucketHolders, bucketConfinements} {
		b := tx.Bucket(name)
		if b == nil {
			continue
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// holderJoin reads the holders bucket beside a walk of the leases in
// storage (slug) order with a cursor that only moves forward, as
// vacancyJoin does: "\x00" sorts before every character of a slug, so
// the entries of a slug come in the order the slugs do.
type holderJoin struct {
	c    *bolt.Cursor
	k, v []byte
	conf *bolt.Bucket // confinements, looked up per entry: few leases have one
}

func joinHolders(tx *bolt.Tx) *holderJoin {
	b := tx.Bucket(bucketHolders)
	if b == nil {
		return &holderJoin{}
	}
	j := &holderJoin{c: b.Cursor(), conf: tx.Bucket(bucketConfinements)}
	j.k, j.v = j.c.First()
	return j
}

// of calls fn with each entry of slug (key, decoded, readable); slugs
// must come in ascending order. Entries of slugs without a lease are
// skipped.
func (j *holderJoin) of(slug []byte, fn func(k []byte, h ProcessHolder, ok bool)) {
	for j.k != nil {
		s, _, _ := bytes.Cut(j.k, []byte{0})
		switch c := bytes.Compare(s, slug); {
		case c > 0:
			return
		case c == 0:
			h, ok := decodeHolder(j.k, j.v)
			if ok {
				confinementOf(j.conf, &h)
			}
			fn(j.k, h, ok)
		}
		j.k, j.v = j.c.Next()
	}
}

// processes returns slug's readable entries of generation gen.
func (j *holderJoin) processes(slug []byte, gen uint64) []ProcessHolder {
	var hs []ProcessHolder
	j.of(slug, func(_ []byte, h ProcessHolder, ok bool) {
		if ok && h.Generation == gen {
			hs = append(hs, h)
		}
	})
	return hs
}

// The runs bucket (slug -> generation, 8 bytes) marks a lease that a run
// made for itself: the last run of it to end releases it. A lease made
// by acquire, or by a run with --keep, has no mark and is kept. Binaries
// before it ignore the bucket; a mark of another generation is void.
var bucketRuns = []byte("runs")

// runMade says whether slug's lease of generation gen is marked.
func runMade(tx *bolt.Tx, slug string, gen uint64) bool {
	b := tx.Bucket(bucketRuns)
	if b == nil {
		return false
	}
	v := b.Get([]byte(slug))
	return len(v) == 8 && binary.BigEndian.Uint64(v) == gen
}

// markRunMade marks slug's lease of generation gen (made false: unmarks).
func markRunMade(tx *bolt.Tx, slug string, gen uint64, made bool) error {
	if !made {
		if b := tx.Bucket(bucketRuns); b != nil {
			return b.Delete([]byte(slug))
		}
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketRuns)
	if err != nil {
		return err
	}
	return b.Put([]byte(slug), binary.BigEndian.AppendUint64(nil, gen))
}
