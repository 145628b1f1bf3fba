package lease

import (
	"encoding/binary"
	"path/filepath"
	"time"

	"github.com/aliaslease/aliaslease/lease/internal/safefile"
	bolt "go.etcd.io/bbolt"
)

// initDB fills a new database: its buckets and schema, then fill's
// records (nil for none), and the mark that a verifying writer wrote it.
func initDB(fill func(*bolt.Tx) error) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keySchema, binary.BigEndian.AppendUint32(nil, SchemaVersion)); err != nil {
			return err
		}
		if err := setSeenFloor(tx, noLeaseFloor); err != nil {
			return err
		}
		for _, b := range [][]byte{bucketLeases, bucketAliases, bucketLog} {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		if fill != nil {
			if err := fill(tx); err != nil {
				return err
			}
		}
		return markVerified(tx)
	}
}

// create writes a new database named base in d, filled by fill, through
// safefile's Create: aside, then renamed into place, so that the path
// never holds a half-made file. It runs under the lock and returns the
// new file's identity.
func create(d *safefile.Dir, base string, fill func(*bolt.Tx) error) (safefile.Info, error) {
	return d.Create(base, "database", func(name string, i safefile.Info) error {
		db, err := bolt.Open(filepath.Join(d.Path(), name), 0o600, &bolt.Options{Timeout: time.Second, PageSize: pageSize, OpenFile: d.Opener(name, i)})
		if err != nil {
			return err
		}
		err = db.Update(initDB(fill))
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		crashPoint("create-midway") // a whole database aside, not yet in place
		return nil
	})
}
