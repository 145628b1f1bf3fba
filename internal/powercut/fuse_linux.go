//go:build linux

package powercut

import (
	"context"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// inode is the go-fuse face of a node. Several may exist for one node
// across lookups; they all point at it.
type inode struct {
	fs.Inode
	f *FS
	n *node
}

var (
	_ fs.NodeLookuper   = (*inode)(nil)
	_ fs.NodeGetattrer  = (*inode)(nil)
	_ fs.NodeSetattrer  = (*inode)(nil)
	_ fs.NodeOpener     = (*inode)(nil)
	_ fs.NodeReader     = (*inode)(nil)
	_ fs.NodeWriter     = (*inode)(nil)
	_ fs.NodeFsyncer    = (*inode)(nil)
	_ fs.NodeFlusher    = (*inode)(nil)
	_ fs.NodeCreater    = (*inode)(nil)
	_ fs.NodeMkdirer    = (*inode)(nil)
	_ fs.NodeSymlinker  = (*inode)(nil)
	_ fs.NodeReadlinker = (*inode)(nil)
	_ fs.NodeLinker     = (*inode)(nil)
	_ fs.NodeUnlinker   = (*inode)(nil)
	_ fs.NodeRmdirer    = (*inode)(nil)
	_ fs.NodeRenamer    = (*inode)(nil)
	_ fs.NodeReaddirer  = (*inode)(nil)
	_ fs.NodeStatfser   = (*inode)(nil)
	_ fs.NodeAllocater  = (*inode)(nil)
)

// lock takes the model's lock; it fails with EIO once the power is off.
func (i *inode) lock() syscall.Errno {
	i.f.mu.Lock()
	if i.f.off {
		i.f.mu.Unlock()
		return syscall.EIO
	}
	return 0
}

func (i *inode) unlock() { i.f.mu.Unlock() }

func (f *FS) fillAttr(n *node, a *fuse.Attr) {
	a.Ino = n.id
	a.Mode = n.typ | n.attr.perm
	a.Nlink = n.nlink
	a.Uid, a.Gid = n.attr.uid, n.attr.gid
	switch n.typ {
	case syscall.S_IFREG:
		a.Size = uint64(len(n.data))
	case syscall.S_IFLNK:
		a.Size = uint64(len(n.target))
	case syscall.S_IFDIR:
		a.Size = 4096
		a.Nlink = 2
		for _, c := range n.kids {
			if c.isDir() {
				a.Nlink++
			}
		}
	}
	a.Blocks = (a.Size + 511) / 512
	a.Blksize = 4096
	a.SetTimes(&n.attr.mtime, &n.attr.mtime, &n.attr.ctime)
}

// child returns the go-fuse inode for c, filling out.
func (i *inode) child(ctx context.Context, c *node, out *fuse.EntryOut) *fs.Inode {
	i.f.fillAttr(c, &out.Attr)
	return i.NewInode(ctx, &inode{f: i.f, n: c}, fs.StableAttr{Mode: c.typ, Ino: c.id, Gen: 1})
}

func caller(ctx context.Context) (uid, gid uint32) {
	if c, ok := fuse.FromContext(ctx); ok {
		return c.Uid, c.Gid
	}
	return 0, 0
}

func (i *inode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := i.lock(); e != 0 {
		return nil, e
	}
	defer i.unlock()
	if !i.n.isDir() {
		return nil, syscall.ENOTDIR
	}
	c := i.n.kids[name]
	if c == nil {
		return nil, syscall.ENOENT
	}
	return i.child(ctx, c, out), 0
}

func (i *inode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if e := i.lock(); e != 0 {
		return e
	}
	defer i.unlock()
	i.f.fillAttr(i.n, &out.Attr)
	return 0
}

func (i *inode) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := i.lock(); e != 0 {
		return e
	}
	defer i.unlock()
	n := i.n
	if size, ok := in.GetSize(); ok {
		if !n.isReg() {
			return syscall.EINVAL
		}
		i.f.truncate(n, int64(size))
	}
	if mode, ok := in.GetMode(); ok {
		n.attr.perm = mode & 07777
	}
	if uid, ok := in.GetUID(); ok {
		n.attr.uid = uid
	}
	if gid, ok := in.GetGID(); ok {
		n.attr.gid = gid
	}
	if t, ok := in.GetMTime(); ok {
		n.attr.mtime = t
	}
	n.attr.ctime = time.Now()
	i.f.fillAttr(n, &out.Attr)
	return 0
}

func (i *inode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if e := i.lock(); e != 0 {
		return nil, 0, e
	}
	defer i.unlock()
	if flags&syscall.O_TRUNC != 0 && i.n.isReg() && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		i.f.truncate(i.n, 0)
	}
	return nil, 0, 0
}

func (i *inode) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if e := i.lock(); e != 0 {
		return nil, e
	}
	defer i.unlock()
	if !i.n.isReg() {
		return nil, syscall.EISDIR
	}
	i.f.stats.Reads++
	if off >= int64(len(i.n.data)) {
		return fuse.ReadResultData(nil), 0
	}
	n := copy(dest, i.n.data[off:])
	return fuse.ReadResultData(dest[:n]), 0
}

func (i *inode) Write(ctx context.Context, fh fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	if e := i.lock(); e != 0 {
		return 0, e
	}
	defer i.unlock()
	if !i.n.isReg() {
		return 0, syscall.EISDIR
	}
	i.f.stats.Writes++
	i.f.write(i.n, data, off)
	return uint32(len(data)), 0
}

func (i *inode) Allocate(ctx context.Context, fh fs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	if e := i.lock(); e != 0 {
		return e
	}
	defer i.unlock()
	const keepSize = 1 // FALLOC_FL_KEEP_SIZE
	switch {
	case mode&^keepSize != 0:
		return syscall.EOPNOTSUPP
	case mode&keepSize == 0 && int64(off+size) > int64(len(i.n.data)):
		i.f.truncate(i.n, int64(off+size))
	}
	return 0
}

// Fsync is fsync and fdatasync of a file, and fsync of a directory.
func (i *inode) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	f := i.f
	if e := i.lock(); e != 0 {
		return e
	}
	defer i.unlock()
	f.syncs++
	if f.offAtSync > 0 && f.syncs >= f.offAtSync {
		f.off = true
		f.stats.CutAtSync = f.syncs
		return syscall.EIO
	}
	switch {
	case i.n.isDir():
		f.stats.DirSyncs++
		if !f.skipDir {
			f.syncDir(i.n)
		}
	case flags&1 != 0: // FUSE_FSYNC_FDATASYNC
		f.stats.Fdatasyncs++
		if !f.skipFile {
			f.syncData(i.n, false)
		}
	default:
		f.stats.Fsyncs++
		if !f.skipFile {
			f.syncData(i.n, true)
		}
	}
	return 0
}

func (i *inode) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno {
	if e := i.lock(); e != 0 {
		return e
	}
	i.unlock()
	return 0
}

func (i *inode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	out.Bsize = 4096
	out.Frsize = 4096
	out.Blocks = 1 << 20
	out.Bfree = 1 << 19
	out.Bavail = 1 << 19
	out.Files = 1 << 20
	out.Ffree = 1 << 19
	out.NameLen = 255
	return 0
}
