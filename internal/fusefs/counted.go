package fusefs

import "github.com/hanwen/go-fuse/v2/fuse"

// counted is the mount's file system as go-fuse calls it: every method of
// fuse.RawFileSystem, each call counted while it runs (rawFS.active), so
// that a handover knows when no request is left in this process.
type counted struct{ fs *rawFS }

func (c counted) String() string {
	return c.fs.String()
}

func (c counted) SetDebug(debug bool) {
	c.fs.SetDebug(debug)
}

func (c counted) Lookup(cancel <-chan struct{}, header *fuse.InHeader, name string, out *fuse.EntryOut) (status fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Lookup(cancel, header, name, out)
}

func (c counted) Forget(nodeid, nlookup uint64) {
	c.fs.Forget(nodeid, nlookup)
}

func (c counted) GetAttr(cancel <-chan struct{}, input *fuse.GetAttrIn, out *fuse.AttrOut) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.GetAttr(cancel, input, out)
}

func (c counted) SetAttr(cancel <-chan struct{}, input *fuse.SetAttrIn, out *fuse.AttrOut) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.SetAttr(cancel, input, out)
}

func (c counted) Mknod(cancel <-chan struct{}, input *fuse.MknodIn, name string, out *fuse.EntryOut) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Mknod(cancel, input, name, out)
}

func (c counted) Mkdir(cancel <-chan struct{}, input *fuse.MkdirIn, name string, out *fuse.EntryOut) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Mkdir(cancel, input, name, out)
}

func (c counted) Unlink(cancel <-chan struct{}, header *fuse.InHeader, name string) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Unlink(cancel, header, name)
}

func (c counted) Rmdir(cancel <-chan struct{}, header *fuse.InHeader, name string) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Rmdir(cancel, header, name)
}

func (c counted) Rename(cancel <-chan struct{}, input *fuse.RenameIn, oldName string, newName string) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Rename(cancel, input, oldName, newName)
}

func (c counted) Link(cancel <-chan struct{}, input *fuse.LinkIn, filename string, out *fuse.EntryOut) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Link(cancel, input, filename, out)
}

func (c counted) Symlink(cancel <-chan struct{}, header *fuse.InHeader, pointedTo string, linkName string, out *fuse.EntryOut) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Symlink(cancel, header, pointedTo, linkName, out)
}

func (c counted) Readlink(cancel <-chan struct{}, header *fuse.InHeader) (out []byte, code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Readlink(cancel, header)
}

func (c counted) Access(cancel <-chan struct{}, input *fuse.AccessIn) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Access(cancel, input)
}

func (c counted) GetXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string, dest []byte) (sz uint32, code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.GetXAttr(cancel, header, attr, dest)
}

func (c counted) ListXAttr(cancel <-chan struct{}, header *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.ListXAttr(cancel, header, dest)
}

func (c counted) SetXAttr(cancel <-chan struct{}, input *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.SetXAttr(cancel, input, attr, data)
}

func (c counted) RemoveXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.RemoveXAttr(cancel, header, attr)
}

func (c counted) Create(cancel <-chan struct{}, input *fuse.CreateIn, name string, out *fuse.CreateOut) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Create(cancel, input, name, out)
}

func (c counted) Tmpfile(cancel <-chan struct{}, input *fuse.CreateIn, out *fuse.CreateOut) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Tmpfile(cancel, input, out)
}

func (c counted) Open(cancel <-chan struct{}, input *fuse.OpenIn, out *fuse.OpenOut) (status fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Open(cancel, input, out)
}

func (c counted) Read(cancel <-chan struct{}, input *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Read(cancel, input, buf)
}

func (c counted) Lseek(cancel <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Lseek(cancel, in, out)
}

func (c counted) GetLk(cancel <-chan struct{}, input *fuse.LkIn, out *fuse.LkOut) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.GetLk(cancel, input, out)
}

func (c counted) SetLk(cancel <-chan struct{}, input *fuse.LkIn) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.SetLk(cancel, input)
}

func (c counted) SetLkw(cancel <-chan struct{}, input *fuse.LkIn) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.SetLkw(cancel, input)
}

func (c counted) Release(cancel <-chan struct{}, input *fuse.ReleaseIn) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	c.fs.Release(cancel, input)
}

func (c counted) Write(cancel <-chan struct{}, input *fuse.WriteIn, data []byte) (written uint32, code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Write(cancel, input, data)
}

func (c counted) Writev(cancel <-chan struct{}, input *fuse.WriteIn, data [][]byte) (written uint32, code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Writev(cancel, input, data)
}

func (c counted) CopyFileRange(cancel <-chan struct{}, input *fuse.CopyFileRangeIn) (written uint32, code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.CopyFileRange(cancel, input)
}

func (c counted) Ioctl(cancel <-chan struct{}, input *fuse.IoctlIn, inbuf []byte, output *fuse.IoctlOut, outbuf []byte) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Ioctl(cancel, input, inbuf, output, outbuf)
}

func (c counted) Flush(cancel <-chan struct{}, input *fuse.FlushIn) fuse.Status {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Flush(cancel, input)
}

func (c counted) Fsync(cancel <-chan struct{}, input *fuse.FsyncIn) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Fsync(cancel, input)
}

func (c counted) Fallocate(cancel <-chan struct{}, input *fuse.FallocateIn) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Fallocate(cancel, input)
}

func (c counted) OpenDir(cancel <-chan struct{}, input *fuse.OpenIn, out *fuse.OpenOut) (status fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.OpenDir(cancel, input, out)
}

func (c counted) ReadDir(cancel <-chan struct{}, input *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.ReadDir(cancel, input, out)
}

func (c counted) ReadDirPlus(cancel <-chan struct{}, input *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.ReadDirPlus(cancel, input, out)
}

func (c counted) ReleaseDir(input *fuse.ReleaseIn) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	c.fs.ReleaseDir(input)
}

func (c counted) FsyncDir(cancel <-chan struct{}, input *fuse.FsyncIn) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.FsyncDir(cancel, input)
}

func (c counted) StatFs(cancel <-chan struct{}, input *fuse.InHeader, out *fuse.StatfsOut) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.StatFs(cancel, input, out)
}

func (c counted) Statx(cancel <-chan struct{}, input *fuse.StatxIn, out *fuse.StatxOut) (code fuse.Status) {
	c.fs.active.Add(1)
	defer c.fs.active.Add(-1)
	return c.fs.Statx(cancel, input, out)
}

func (c counted) Init(s *fuse.Server) {
	c.fs.Init(s)
}

func (c counted) OnUnmount() {
	c.fs.OnUnmount()
}
