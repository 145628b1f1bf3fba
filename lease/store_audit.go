package lease

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MaxEvents is how many audit events the database keeps; older ones are
// dropped as new ones are written.
const MaxEvents = 1000

var bucketLog = []byte("log") // 8-byte sequence -> JSON event

// EventKind names what an audit event records.
type EventKind string

// Event kinds in the audit log.
const (
	EventAcquire EventKind = "acquire" // a new lease on the lowest free alias
	EventAdopt   EventKind = "adopt"   // a new lease on the alias a labelled container uses
	EventRenew   EventKind = "renew"
	EventRelease EventKind = "release"
	EventReclaim EventKind = "reclaim" // a stale lease removed by gc or acquire
	EventRecover EventKind = "recover" // a lease rebuilt from Docker
	// EventConfine records a process tree confined to the lease's alias
	// (a holder recorded with a Confinement), EventUnconfine one whose
	// confinement was lifted on purpose (Manager.Unconfine).
	EventConfine   EventKind = "confine"
	EventUnconfine EventKind = "unconfine"
)

// Event is one entry of the audit log, written in the same transaction
// as the change it records.
type Event struct {
	Seq        uint64     `json:"seq"`
	Time       time.Time  `json:"time"`
	Kind       EventKind  `json:"event"`
	Slug       string     `json:"slug"`
	Alias      netip.Addr `json:"alias"`
	Generation uint64     `json:"generation"`
	Reason     Reason     `json:"reason,omitempty"`
	PID        int        `json:"pid"`
	Command    string     `json:"command,omitempty"`
}

// logEvent appends an event for l and drops the one MaxEvents older.
func (s *store) logEvent(tx *bolt.Tx, now time.Time, kind EventKind, l Lease, reason Reason) error {
	b, err := tx.CreateBucketIfNotExists(bucketLog)
	if err != nil {
		return err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	e := Event{Seq: seq, Time: now.UTC(), Kind: kind, Slug: l.Slug, Alias: l.Alias, Generation: l.Generation,
		Reason: reason, PID: os.Getpid(), Command: s.command}
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := b.Put(seqKey(seq), v); err != nil {
		return err
	}
	if seq > MaxEvents {
		return b.Delete(seqKey(seq - MaxEvents))
	}
	return nil
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// Events returns the newest n events (all kept ones when n <= 0), oldest
// first, only those of slug when slug is not empty.
func (s *store) Events(n int, slug string) ([]Event, error) {
	var out []Event
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLog)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && (n <= 0 || len(out) < n); k, v = c.Prev() {
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("%w: audit event %d: %v", ErrCorrupt, binary.BigEndian.Uint64(k), err)
			}
			if slug == "" || e.Slug == slug {
				out = append(out, e)
			}
		}
		return nil
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}
