package metatest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"cairn/internal/acl"
	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// Scripts are namespace scenarios, one command a line:
//
//	as UID:GID[:G1,G2]          run the next commands as that identity
//	umask 022
//	mkdir PATH MODE             create PATH MODE      mknod PATH fifo|char|block|socket MODE
//	symlink PATH TARGET         link OLD NEW          unlink PATH       rmdir PATH
//	rename OLD NEW [noreplace|exchange]
//	chmod PATH MODE             chown PATH UID GID    truncate PATH SIZE
//	utimes PATH now|explicit    access PATH rwx
//	stat PATH key=value...      (mode= perm+special bits in octal, type=, nlink=, uid=, gid=, size=)
//	ls PATH -> NAME...          readlink PATH -> TARGET
//	setxattr PATH NAME VALUE [create|replace]      getxattr PATH NAME -> VALUE
//	setfacl PATH [default] ACL  getfacl PATH [default] -> ACL|none
//
// A command that must fail ends with "-> ERRNO" (EACCES, EPERM, ...).
// Lines starting with # are comments.

func scriptDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata")
}

func runScripts(t *testing.T, newStore func(t *testing.T) kv.Store) {
	files, err := filepath.Glob(filepath.Join(scriptDir(), "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in %s: %v", scriptDir(), err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			m := newFS(t, newStore, meta.Format{EnableACL: true})
			runScript(t, m, f)
		})
	}
}

var errnos = map[string]syscall.Errno{
	"EACCES": syscall.EACCES, "EPERM": syscall.EPERM, "ENOENT": syscall.ENOENT, "EEXIST": syscall.EEXIST,
	"ENOTEMPTY": syscall.ENOTEMPTY, "ENOTDIR": syscall.ENOTDIR, "EISDIR": syscall.EISDIR, "EINVAL": syscall.EINVAL,
	"ENAMETOOLONG": syscall.ENAMETOOLONG, "ENODATA": syscall.ENODATA, "EXDEV": syscall.EXDEV, "ELOOP": syscall.ELOOP,
	"ENOSPC": syscall.ENOSPC, "EDQUOT": syscall.EDQUOT, "E2BIG": syscall.E2BIG, "ERANGE": syscall.ERANGE,
	"EOPNOTSUPP": syscall.EOPNOTSUPP, "EMLINK": syscall.EMLINK, "EBUSY": syscall.EBUSY,
}

type interp struct {
	ctx  context.Context
	m    *meta.FS
	cred posix.Cred
}

func runScript(t *testing.T, m *meta.FS, file string) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in := &interp{ctx: context.Background(), m: m, cred: posix.Root}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cmd, want, _ := strings.Cut(text, "->")
		want = strings.TrimSpace(want)
		args := strings.Fields(cmd)
		out, err := in.exec(args)
		loc := fmt.Sprintf("%s:%d: %s", filepath.Base(file), line, text)
		if e, isErrno := errnos[want]; isErrno {
			if !errors.Is(err, e) {
				t.Fatalf("%s\n\tgot error %v, want %s", loc, err, want)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s\n\tunexpected error: %v", loc, err)
		}
		if want != "" && out != want {
			t.Fatalf("%s\n\tgot %q, want %q", loc, out, want)
		}
	}
}

// resolve walks to the parent of p as the current identity and returns
// it with the last name.
func (in *interp) resolve(p string) (posix.Ino, string, error) {
	p = path.Clean("/" + p)
	dir, name := path.Split(p)
	ino := posix.RootIno
	for _, c := range strings.Split(strings.Trim(dir, "/"), "/") {
		if c == "" {
			continue
		}
		e, err := in.m.Lookup(in.ctx, in.cred, ino, c)
		if err != nil {
			return 0, "", err
		}
		ino = e.Ino
	}
	return ino, name, nil
}

func (in *interp) lookup(p string) (meta.Entry, error) {
	if path.Clean("/"+p) == "/" {
		a, err := in.m.GetAttr(in.ctx, posix.RootIno)
		return meta.Entry{Ino: posix.RootIno, Attr: a}, err
	}
	parent, name, err := in.resolve(p)
	if err != nil {
		return meta.Entry{}, err
	}
	return in.m.Lookup(in.ctx, in.cred, parent, name)
}

func octal(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 8, 32)
	return uint32(v), err
}

func need(args []string, n int) error {
	if len(args) < n {
		return fmt.Errorf("script: %s needs %d arguments", args[0], n-1)
	}
	return nil
}

func (in *interp) exec(args []string) (string, error) {
	if len(args) == 0 {
		return "", nil
	}
	switch args[0] {
	case "as":
		if err := need(args, 2); err != nil {
			return "", err
		}
		parts := strings.Split(args[1], ":")
		u, _ := strconv.ParseUint(parts[0], 10, 32)
		g, _ := strconv.ParseUint(parts[1], 10, 32)
		in.cred = posix.Cred{UID: uint32(u), GID: uint32(g), Umask: in.cred.Umask}
		if len(parts) > 2 {
			for _, s := range strings.Split(parts[2], ",") {
				x, _ := strconv.ParseUint(s, 10, 32)
				in.cred.Groups = append(in.cred.Groups, uint32(x))
			}
		}
		return "", nil
	case "umask":
		v, err := octal(args[1])
		in.cred.Umask = v
		return "", err
	case "mkdir", "create", "mknod", "symlink":
		return "", in.create(args)
	case "link":
		if err := need(args, 3); err != nil {
			return "", err
		}
		e, err := in.lookup(args[1])
		if err != nil {
			return "", err
		}
		parent, name, err := in.resolve(args[2])
		if err != nil {
			return "", err
		}
		_, err = in.m.Link(in.ctx, in.cred, e.Ino, parent, name)
		return "", err
	case "unlink", "rmdir":
		parent, name, err := in.resolve(args[1])
		if err != nil {
			return "", err
		}
		if args[0] == "unlink" {
			return "", in.m.Unlink(in.ctx, in.cred, parent, name)
		}
		return "", in.m.Rmdir(in.ctx, in.cred, parent, name)
	case "rename":
		if err := need(args, 3); err != nil {
			return "", err
		}
		p1, n1, err := in.resolve(args[1])
		if err != nil {
			return "", err
		}
		p2, n2, err := in.resolve(args[2])
		if err != nil {
			return "", err
		}
		var flags uint32
		if len(args) > 3 {
			switch args[3] {
			case "noreplace":
				flags = meta.RenameNoReplace
			case "exchange":
				flags = meta.RenameExchange
			default:
				flags = 0x80
			}
		}
		return "", in.m.Rename(in.ctx, in.cred, p1, n1, p2, n2, flags)
	case "chmod", "chown", "truncate", "utimes":
		return "", in.setattr(args)
	case "access":
		e, err := in.lookup(args[1])
		if err != nil {
			return "", err
		}
		var want uint16
		for _, c := range args[2] {
			switch c {
			case 'r':
				want |= posix.MayRead
			case 'w':
				want |= posix.MayWrite
			case 'x':
				want |= posix.MayExec
			}
		}
		return "", in.m.Access(in.ctx, in.cred, e.Ino, want)
	case "stat":
		e, err := in.lookup(args[1])
		if err != nil {
			return "", err
		}
		return "", checkStat(e.Attr, args[2:])
	case "ls":
		e, err := in.lookup(args[1])
		if err != nil {
			return "", err
		}
		ents, err := in.m.ReadDir(in.ctx, in.cred, e.Ino, meta.ReadDirOptions{})
		if err != nil {
			return "", err
		}
		var names []string
		for _, d := range ents {
			if d.Name != "." && d.Name != ".." {
				names = append(names, d.Name)
			}
		}
		if !sort.StringsAreSorted(names) {
			return "", fmt.Errorf("readdir not in name order: %v", names)
		}
		return strings.Join(names, " "), nil
	case "readlink":
		e, err := in.lookup(args[1])
		if err != nil {
			return "", err
		}
		return in.m.Readlink(in.ctx, e.Ino)
	case "setxattr":
		if err := need(args, 4); err != nil {
			return "", err
		}
		e, err := in.lookup(args[1])
		if err != nil {
			return "", err
		}
		var flags uint32
		if len(args) > 4 {
			flags = map[string]uint32{"create": meta.XattrCreate, "replace": meta.XattrReplace}[args[4]]
		}
		return "", in.m.SetXattr(in.ctx, in.cred, e.Ino, args[2], []byte(args[3]), meta.XattrOptions{Flags: flags})
	case "getxattr":
		e, err := in.lookup(args[1])
		if err != nil {
			return "", err
		}
		v, err := in.m.GetXattr(in.ctx, in.cred, e.Ino, args[2], meta.XattrOptions{})
		return string(v), err
	case "setfacl", "getfacl":
		return in.facl(args)
	}
	return "", fmt.Errorf("script: unknown command %q", args[0])
}

func (in *interp) create(args []string) error {
	if err := need(args, 3); err != nil {
		return err
	}
	parent, name, err := in.resolve(args[1])
	if err != nil {
		return err
	}
	req := meta.CreateRequest{Umask: in.cred.Umask, Exclusive: true}
	modeArg := args[2]
	switch args[0] {
	case "mkdir":
		req.Type = posix.TypeDir
	case "create":
		req.Type = posix.TypeFile
	case "symlink":
		req.Type, req.Target, modeArg = posix.TypeSymlink, args[2], "777"
	case "mknod":
		if err := need(args, 4); err != nil {
			return err
		}
		req.Type = map[string]posix.FileType{"fifo": posix.TypeFIFO, "char": posix.TypeCharDev, "block": posix.TypeBlockDev, "socket": posix.TypeSocket}[args[2]]
		modeArg = args[3]
	}
	if req.Mode, err = octal(modeArg); err != nil {
		return err
	}
	_, err = in.m.Create(in.ctx, in.cred, parent, name, req)
	return err
}

func (in *interp) setattr(args []string) error {
	e, err := in.lookup(args[1])
	if err != nil {
		return err
	}
	var req meta.SetAttrRequest
	switch args[0] {
	case "chmod":
		req.Valid = meta.SetMode
		req.Mode, err = octal(args[2])
	case "chown":
		if err := need(args, 4); err != nil {
			return err
		}
		if args[2] != "-1" {
			u, _ := strconv.ParseUint(args[2], 10, 32)
			req.Valid |= meta.SetUID
			req.UID = uint32(u)
		}
		if args[3] != "-1" {
			g, _ := strconv.ParseUint(args[3], 10, 32)
			req.Valid |= meta.SetGID
			req.GID = uint32(g)
		}
	case "truncate":
		req.Valid = meta.SetSize
		req.Size, err = strconv.ParseUint(args[2], 10, 64)
	case "utimes":
		if args[2] == "now" {
			req.Valid = meta.SetAtimeNow | meta.SetMtimeNow
		} else {
			req.Valid, req.Atime, req.Mtime = meta.SetAtime|meta.SetMtime, 1e9, 2e9
		}
	}
	if err != nil {
		return err
	}
	_, err = in.m.SetAttr(in.ctx, in.cred, e.Ino, req)
	return err
}

func (in *interp) facl(args []string) (string, error) {
	e, err := in.lookup(args[1])
	if err != nil {
		return "", err
	}
	typ := meta.ACLAccess
	rest := args[2:]
	if len(rest) > 0 && rest[0] == "default" {
		typ, rest = meta.ACLDefault, rest[1:]
	}
	if args[0] == "getfacl" {
		r, err := in.m.GetACL(in.ctx, e.Ino, typ)
		if err != nil || r == nil {
			return "none", err
		}
		return r.String(), nil
	}
	if len(rest) == 0 {
		return "", fmt.Errorf("script: setfacl needs an ACL")
	}
	if rest[0] == "none" {
		return "", in.m.SetACL(in.ctx, in.cred, e.Ino, typ, nil)
	}
	r, err := acl.Parse(rest[0], nil)
	if err != nil {
		return "", err
	}
	return "", in.m.SetACL(in.ctx, in.cred, e.Ino, typ, r)
}

var typeNames = map[string]posix.FileType{"file": posix.TypeFile, "dir": posix.TypeDir, "symlink": posix.TypeSymlink,
	"fifo": posix.TypeFIFO, "char": posix.TypeCharDev, "block": posix.TypeBlockDev, "socket": posix.TypeSocket}

func checkStat(a posix.Attr, kvs []string) error {
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		var got, want uint64
		switch k {
		case "mode":
			got = uint64(a.Mode & posix.ModeMask)
			w, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				return err
			}
			want = w
		case "type":
			if typeNames[v] != a.Type {
				return fmt.Errorf("type is %d, want %s", a.Type, v)
			}
			continue
		case "nlink":
			got = uint64(a.Nlink)
		case "uid":
			got = uint64(a.UID)
		case "gid":
			got = uint64(a.GID)
		case "size":
			got = a.Length
		default:
			return fmt.Errorf("script: unknown stat key %q", k)
		}
		if k != "mode" {
			w, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return err
			}
			want = w
		}
		if got != want {
			if k == "mode" {
				return fmt.Errorf("mode is %o, want %o", got, want)
			}
			return fmt.Errorf("%s is %d, want %d", k, got, want)
		}
	}
	return nil
}
