// Package securedir makes sure a directory the agent keeps its socket or its secrets in is its own:
// owned by the agent's uid and not writable by anyone else, nor replaceable through a parent
// another user may write to. A directory that is absent is created with the mode asked for; one
// that exists and fails the check is refused (never silently fixed: someone else made it).
package securedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Ensure creates dir with perm (0700 or 0755) if it is absent, then checks it: it must be a
// directory owned by this process's uid, grant nobody else more than perm does and never write
// access to group or others, and every directory above it must be owned by root or this uid and
// not writable by others unless it is sticky (/tmp). A symlink on the way is followed, but one owned
// by another user is refused (its owner could point it elsewhere later).
func Ensure(dir string, perm os.FileMode) error {
	if dir == "" {
		return errors.New("securedir: empty directory path")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	uid := uint32(os.Geteuid())
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return fmt.Errorf("cannot create the parent of %s: %w", abs, err)
	}
	if err := os.Mkdir(abs, perm); err == nil {
		// Mkdir's mode passed through the umask: set it exactly (the directory is ours and new).
		if err := os.Chmod(abs, perm); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("cannot create %s: %w", abs, err)
	}
	if fi, err := os.Lstat(abs); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if owner := ownerOf(fi); owner != 0 && owner != uid {
			return fmt.Errorf("%s is a symlink owned by uid %d, not by root or this agent's uid %d: "+
				"another user could point it elsewhere; remove it or use another path", abs, owner, uid)
		}
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", describe(abs, real))
	}
	if owner := ownerOf(fi); owner != uid {
		return fmt.Errorf("%s is owned by uid %d, not by this agent's uid %d: another user made it and "+
			"could read or replace what the agent keeps there; remove it or use another path", describe(abs, real), owner, uid)
	}
	if mode := fi.Mode().Perm(); mode&0o022 != 0 || mode&^perm != 0 {
		return fmt.Errorf("%s has mode %04o, which lets others %s; it must be %04o at most (chmod %o %s)",
			describe(abs, real), mode, what(mode, perm), perm, perm, real)
	}
	for parent := filepath.Dir(real); ; parent = filepath.Dir(parent) {
		pi, err := os.Stat(parent)
		if err != nil {
			return err
		}
		owner := ownerOf(pi)
		if owner != 0 && owner != uid {
			return fmt.Errorf("%s is inside %s, which is owned by uid %d: that user could replace it; "+
				"use a path under directories owned by root or uid %d", describe(abs, real), parent, owner, uid)
		}
		if pi.Mode().Perm()&0o022 != 0 && pi.Mode()&fs.ModeSticky == 0 {
			return fmt.Errorf("%s is inside %s, which has mode %04o (writable by group or others, not sticky): "+
				"another user could replace it", describe(abs, real), parent, pi.Mode().Perm())
		}
		if parent == filepath.Dir(parent) {
			return nil
		}
	}
}

func describe(abs, real string) string {
	if abs == real {
		return "directory " + abs
	}
	return "directory " + abs + " (" + real + ")"
}

func what(mode, perm os.FileMode) string {
	if mode&0o022 != 0 {
		return "write into it (group or world writable)"
	}
	return "read what is in it"
}

func ownerOf(fi os.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	return ^uint32(0)
}
