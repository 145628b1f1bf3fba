//go:build linux

package powercut

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"syscall"
	"time"
)

// attrs are the attributes of an inode that the model keeps.
type attrs struct {
	perm     uint32 // permission bits, setuid, setgid and sticky (07777)
	uid, gid uint32
	mtime    time.Time
	ctime    time.Time
}

// node is one inode: its volatile state (what the mount shows) and its
// durable state (what the disk holds). All fields are guarded by FS.mu.
type node struct {
	id  uint64
	typ uint32 // S_IFREG, S_IFDIR or S_IFLNK

	attr  attrs // volatile
	nlink uint32

	// onDisk says whether the inode was ever written to the disk: by an
	// fsync of the file, or by a directory fsync that named it. dattr
	// is then its durable attributes.
	onDisk bool
	dattr  attrs

	// Regular files: volatile bytes, durable bytes, and the pages
	// written since they were last made durable.
	data, ddata []byte
	dirty       map[int64]bool
	sizeDirty   bool

	// Directories: volatile and durable entries.
	kids, dkids map[string]*node

	// Symbolic links: the target, fixed at creation.
	target string
}

func (n *node) isDir() bool { return n.typ == syscall.S_IFDIR }
func (n *node) isReg() bool { return n.typ == syscall.S_IFREG }

// newNode makes an inode that exists only in memory.
func (f *FS) newNode(typ, perm, uid, gid uint32) *node {
	f.nextID++
	now := time.Now()
	n := &node{id: f.nextID, typ: typ, attr: attrs{perm: perm & 07777, uid: uid, gid: gid, mtime: now, ctime: now}}
	switch typ {
	case syscall.S_IFDIR:
		n.kids, n.dkids = map[string]*node{}, map[string]*node{}
	case syscall.S_IFREG:
		n.dirty = map[int64]bool{}
	}
	f.nodes[n.id] = n
	return n
}

// touch records a change of n's contents or entries.
func (n *node) touch() {
	now := time.Now()
	n.attr.mtime, n.attr.ctime = now, now
}

// write puts p at off in n's volatile bytes.
func (f *FS) write(n *node, p []byte, off int64) {
	end := off + int64(len(p))
	if end > int64(len(n.data)) {
		n.resize(end)
	}
	copy(n.data[off:], p)
	for pg := off / f.pageSize; pg*f.pageSize < end; pg++ {
		n.dirty[pg] = true
	}
	n.touch()
}

// resize sets n's volatile size; new bytes are zeros.
func (n *node) resize(size int64) {
	switch {
	case size <= int64(len(n.data)):
		clear(n.data[size:])
		n.data = n.data[:size]
	case size <= int64(cap(n.data)):
		n.data = n.data[:size]
	default:
		d := make([]byte, size, max(size, 2*int64(cap(n.data))))
		copy(d, n.data)
		n.data = d
	}
	n.sizeDirty = true
}

// truncate is ftruncate/O_TRUNC on a regular file.
func (f *FS) truncate(n *node, size int64) {
	old := int64(len(n.data))
	n.resize(size)
	// The pages from the old end (or the new one) on differ from the disk.
	for pg := min(old, size) / f.pageSize; pg*f.pageSize < max(old, size); pg++ {
		n.dirty[pg] = true
	}
	n.touch()
}

// syncData makes n's volatile bytes and size durable (fdatasync); with
// meta, its attributes too (fsync).
func (f *FS) syncData(n *node, meta bool) {
	if !n.onDisk || meta {
		n.dattr = n.attr
	}
	n.onDisk = true
	n.ddata = slices.Clone(n.data)
	clear(n.dirty)
	n.sizeDirty = false
}

// syncDir makes d's entries durable, and writes the inodes it newly names.
func (f *FS) syncDir(d *node) {
	if !d.onDisk {
		d.onDisk = true
	}
	d.dattr = d.attr
	d.dkids = make(map[string]*node, len(d.kids))
	for name, c := range d.kids {
		d.dkids[name] = c
		if !c.onDisk {
			c.onDisk = true
			c.dattr = c.attr
		}
	}
}

// syncAll is sync(2): everything durable.
func (f *FS) syncAll() {
	for _, n := range f.nodes {
		switch {
		case n.isReg():
			f.syncData(n, true)
		case n.isDir():
			f.syncDir(n)
		default:
			n.onDisk, n.dattr = true, n.attr
		}
	}
}

// writeback makes random parts of the volatile state durable, as a
// kernel's background writeback and a journal's periodic commits do:
// each dirty page, each size change, each inode's attributes and each
// directory's entries with probability p.
func (f *FS) writeback(r *rand.Rand, p float64) (pages, dirs int) {
	ids := make([]uint64, 0, len(f.nodes))
	for id := range f.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids) // the same choices for the same seed
	for _, id := range ids {
		n := f.nodes[id]
		switch {
		case n.isReg():
			if n.onDisk && r.Float64() < p {
				n.dattr = n.attr
			}
			if n.sizeDirty && r.Float64() < p {
				// The size reaches the disk before (or without) the data:
				// a grown file reads zeros there.
				old := n.ddata
				n.ddata = make([]byte, len(n.data))
				copy(n.ddata, old)
				n.sizeDirty = false
			}
			pgs := make([]int64, 0, len(n.dirty))
			for pg := range n.dirty {
				pgs = append(pgs, pg)
			}
			slices.Sort(pgs)
			for _, pg := range pgs {
				if r.Float64() >= p {
					continue
				}
				delete(n.dirty, pg)
				start := pg * f.pageSize
				end := min(start+f.pageSize, int64(len(n.data)))
				if start >= end {
					continue
				}
				if int64(len(n.ddata)) < end {
					d := make([]byte, end)
					copy(d, n.ddata)
					n.ddata = d
				}
				copy(n.ddata[start:end], n.data[start:end])
				pages++
			}
		case n.isDir():
			if !maps(n.kids, n.dkids) && r.Float64() < p {
				f.syncDir(n)
				dirs++
			}
		}
	}
	return pages, dirs
}

func maps(a, b map[string]*node) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// load reads the lower directory into the model: volatile and durable
// state both what is there.
func (f *FS) load() error {
	var st syscall.Stat_t
	if err := syscall.Lstat(f.lower, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: f.lower, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return fmt.Errorf("%s is not a directory", f.lower)
	}
	f.root = f.newNode(syscall.S_IFDIR, st.Mode, st.Uid, st.Gid)
	f.root.onDisk, f.root.dattr, f.root.nlink = true, f.root.attr, 1
	return f.loadDir(f.lower, f.root, map[uint64]*node{})
}

func (f *FS) loadDir(path string, d *node, byIno map[uint64]*node) error {
	ents, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := filepath.Join(path, e.Name())
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return &os.PathError{Op: "lstat", Path: p, Err: err}
		}
		c := byIno[st.Ino]
		if c == nil {
			typ := st.Mode & syscall.S_IFMT
			switch typ {
			case syscall.S_IFREG, syscall.S_IFDIR, syscall.S_IFLNK:
			default:
				return fmt.Errorf("%s: file type %o is not served", p, typ)
			}
			c = f.newNode(typ, st.Mode, st.Uid, st.Gid)
			c.attr.mtime = time.Unix(st.Mtim.Unix())
			c.attr.ctime = time.Unix(st.Ctim.Unix())
			c.onDisk, c.dattr = true, c.attr
			switch typ {
			case syscall.S_IFREG:
				if c.data, err = os.ReadFile(p); err != nil {
					return err
				}
				c.ddata = slices.Clone(c.data)
				byIno[st.Ino] = c
			case syscall.S_IFLNK:
				if c.target, err = os.Readlink(p); err != nil {
					return err
				}
			case syscall.S_IFDIR:
				if err := f.loadDir(p, c, byIno); err != nil {
					return err
				}
			}
		}
		c.nlink++
		d.kids[e.Name()] = c
		d.dkids[e.Name()] = c
	}
	return nil
}

// store rewrites the lower directory from the durable state reachable
// from the root: what the disk holds.
func (f *FS) store() error {
	ents, err := os.ReadDir(f.lower)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(f.lower, e.Name())); err != nil {
			return err
		}
	}
	return f.storeDir(f.lower, f.root, map[*node]string{})
}

func (f *FS) storeDir(path string, d *node, stored map[*node]string) error {
	names := make([]string, 0, len(d.dkids))
	for name := range d.dkids {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := d.dkids[name]
		p := filepath.Join(path, name)
		switch c.typ {
		case syscall.S_IFDIR:
			if _, ok := stored[c]; ok {
				continue // a directory has one place (see Rename)
			}
			stored[c] = p
			if err := os.Mkdir(p, 0o700); err != nil {
				return err
			}
			if err := f.storeDir(p, c, stored); err != nil {
				return err
			}
		case syscall.S_IFREG:
			if q, ok := stored[c]; ok {
				if err := os.Link(q, p); err != nil {
					return err
				}
				continue
			}
			stored[c] = p
			if err := os.WriteFile(p, c.ddata, 0o600); err != nil {
				return err
			}
			if err := setAttrs(p, c.dattr); err != nil {
				return err
			}
		case syscall.S_IFLNK:
			if err := os.Symlink(c.target, p); err != nil {
				return err
			}
			if err := os.Lchown(p, int(c.dattr.uid), int(c.dattr.gid)); err != nil {
				return err
			}
		}
	}
	return setAttrs(path, d.dattr)
}

func setAttrs(p string, a attrs) error {
	if err := os.Lchown(p, int(a.uid), int(a.gid)); err != nil && os.Geteuid() == 0 {
		return err
	}
	// os.Chmod takes Go's mode bits; syscall.Chmod takes the kernel's.
	if err := syscall.Chmod(p, a.perm); err != nil {
		return &os.PathError{Op: "chmod", Path: p, Err: err}
	}
	return nil
}
