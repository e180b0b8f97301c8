// Package peer attests the local process on the other end of the Workload API socket from what the
// kernel says: pid, uid and gid by SO_PEERCRED at accept, with a pidfd of that process
// (SO_PEERPIDFD, where the kernel has it) and the file its executable is (device and inode of
// /proc/<pid>/exe); then, at each call, the executable's path and SHA-256 through /proc/<pid>/exe,
// and checks that the pid still names the process that connected (its pidfd still reaches it, its
// start time is the same) after everything was read, so a process that exited and whose pid was
// reused cannot pass, and that it still runs the executable it ran when it connected: a process
// that connected and then exec'd (or handed the connection to one that did) is refused, since the
// start time does not change across execve.
package peer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/credentials"
)

// Info is the caller as the kernel reported it when the connection was accepted.
type Info struct {
	PID       int32
	UID, GID  uint32
	StartTime uint64 // clock ticks after boot, field 22 of /proc/<pid>/stat
	// Exe is the file the process was executing when it connected (zero if it could not be read).
	Exe ExeID
	// pidfd is the connecting process's pidfd (SO_PEERPIDFD), nil where the kernel lacks it; it is
	// closed with the connection.
	pidfd *os.File
	credentials.CommonAuthInfo
}

// ExeID names an executable file: its device and inode.
type ExeID struct {
	Dev, Ino uint64
}

// ExeOf is the file /proc/<pid>/exe is now (zero if it cannot be read).
func ExeOf(pid int32) ExeID {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/"+strconv.Itoa(int(pid))+"/exe", &st); err != nil {
		return ExeID{}
	}
	return ExeID{Dev: st.Dev, Ino: st.Ino}
}

// alive says whether the pid still names the process that connected: its pidfd (where there is
// one) still reaches a live process, and the pid's start time is the one seen at accept.
func (info Info) alive() bool {
	if info.pidfd != nil {
		raw, err := info.pidfd.SyscallConn()
		if err != nil {
			return false
		}
		var sigErr error
		// Control holds the file open while it runs: a pidfd closed with its connection is never
		// confused with another file that took its number.
		if err := raw.Control(func(fd uintptr) { sigErr = unix.PidfdSendSignal(int(fd), 0, nil, 0) }); err != nil || sigErr != nil {
			return false
		}
	}
	start, err := StartTime(info.PID)
	return err == nil && start == info.StartTime
}

// check refuses a caller whose pid no longer names the process that connected, or whose process
// now runs another executable than when it connected.
func (info Info) check() error {
	changed := ExeOf(info.PID) != info.Exe
	if !info.alive() {
		return ErrGone
	}
	if changed {
		return ErrExecChanged
	}
	return nil
}

// pidConn closes the process's pidfd with the connection.
type pidConn struct {
	net.Conn
	pidfd *os.File
}

func (c *pidConn) Close() error {
	err := c.Conn.Close()
	c.pidfd.Close()
	return err
}

// AuthType names the mechanism for gRPC.
func (Info) AuthType() string { return "unix-peercred" }

// Credentials are gRPC transport credentials for a unix socket that read SO_PEERCRED at accept.
type Credentials struct{}

// ServerHandshake records the peer's pid, uid, gid, pidfd, process start time and executable.
func (Credentials) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return nil, nil, errors.New("peer: not a unix socket connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	var cred *unix.Ucred
	var credErr error
	pidfd := -1
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if credErr == nil {
			// The process that connected, whatever its pid names later; a kernel without
			// SO_PEERPIDFD (before 6.5) answers ENOPROTOOPT and the start time alone is checked.
			if p, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PEERPIDFD); err == nil {
				pidfd = p
			}
		}
	}); err != nil {
		return nil, nil, err
	}
	if credErr != nil {
		return nil, nil, fmt.Errorf("peer: SO_PEERCRED: %w", credErr)
	}
	info := Info{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid,
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}
	if pidfd >= 0 {
		info.pidfd = os.NewFile(uintptr(pidfd), "pidfd:"+strconv.Itoa(int(cred.Pid)))
	}
	fail := func(err error) (net.Conn, credentials.AuthInfo, error) {
		if info.pidfd != nil {
			info.pidfd.Close()
		}
		return nil, nil, fmt.Errorf("peer: the calling process %d: %w", cred.Pid, err)
	}
	start, err := StartTime(cred.Pid)
	if err != nil {
		return fail(err)
	}
	info.StartTime = start
	info.Exe = ExeOf(cred.Pid)
	// Both were read through the pid: they are the connecting process's only if it is still there.
	if !info.alive() {
		return fail(ErrGone)
	}
	if info.pidfd != nil {
		conn = &pidConn{Conn: conn, pidfd: info.pidfd}
	}
	return conn, info, nil
}

// ClientHandshake is not used: the agent only serves on the socket.
func (Credentials) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("peer: client side not supported")
}

// Info describes the protocol.
func (Credentials) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "unix-peercred"}
}

// Clone returns the same (stateless) credentials.
func (c Credentials) Clone() credentials.TransportCredentials { return c }

// OverrideServerName does nothing.
func (Credentials) OverrideServerName(string) error { return nil }

// StartTime is field 22 of /proc/<pid>/stat: when the process started, in clock ticks after boot.
func StartTime(pid int32) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces; count fields after it.
	text := string(data)
	end := strings.LastIndexByte(text, ')')
	if end < 0 {
		return 0, errors.New("unreadable /proc stat")
	}
	fields := strings.Fields(text[end+1:])
	if len(fields) < 20 {
		return 0, errors.New("short /proc stat")
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// Attestor turns a caller into selectors, caching briefly per process.
type Attestor struct {
	ttl time.Duration
	now func() time.Time

	mu     sync.Mutex
	byProc map[procKey]cached
	hashes map[fileKey]string
}

// procKey names a process running one executable: execve keeps the pid and the start time, so
// without the executable a process that exec'd would get the selectors cached for what it ran before.
type procKey struct {
	pid   int32
	start uint64
	exe   ExeID
}

type cached struct {
	selectors []string
	at        time.Time
}

// fileKey names one version of a file: a rewrite changes its ctime, which no caller can set.
type fileKey struct {
	dev, ino   uint64
	size       int64
	ctimeNanos int64
}

// NewAttestor caches a process's selectors for ttl.
func NewAttestor(ttl time.Duration) *Attestor {
	return &Attestor{ttl: ttl, now: time.Now, byProc: map[procKey]cached{}, hashes: map[fileKey]string{}}
}

// ErrGone means the process exited (or its pid now names another process) during attestation.
var ErrGone = errors.New("peer: the calling process exited or its pid was reused during attestation")

// ErrExecChanged means the process on the connection runs another executable than when it
// connected (it exec'd, or the connection was handed to a process that did).
var ErrExecChanged = errors.New("peer: the calling process changed its executable since it connected; reconnect")

// Selectors are the caller's unix:uid, unix:gid, unix:user, unix:path and unix:sha256 selectors.
// Each call first checks that the process is still the one that connected, running the same
// executable as then; selectors are cached per process and executable (so those of the image a
// process ran before it exec'd are never handed to the one it runs now).
func (a *Attestor) Selectors(info Info) ([]string, error) {
	if err := info.check(); err != nil {
		return nil, err
	}
	key := procKey{info.PID, info.StartTime, info.Exe}
	now := a.now()
	a.mu.Lock()
	if c, ok := a.byProc[key]; ok && now.Sub(c.at) < a.ttl {
		a.mu.Unlock()
		return c.selectors, nil
	}
	a.mu.Unlock()

	selectors := []string{
		"unix:uid:" + strconv.FormatUint(uint64(info.UID), 10),
		"unix:gid:" + strconv.FormatUint(uint64(info.GID), 10),
	}
	if u, err := user.LookupId(strconv.FormatUint(uint64(info.UID), 10)); err == nil {
		selectors = append(selectors, "unix:user:"+u.Username)
	}
	exe := "/proc/" + strconv.Itoa(int(info.PID)) + "/exe"
	if path, err := os.Readlink(exe); err == nil {
		selectors = append(selectors, "unix:path:"+path)
	}
	sum, err := a.sha256(exe, info.Exe)
	if errors.Is(err, ErrExecChanged) {
		return nil, err
	} else if err == nil {
		selectors = append(selectors, "unix:sha256:"+sum)
	}
	// Everything above was read through the pid: it counts only if the pid still names the process
	// that connected, still running what it ran then (the path was read before the hashed file was
	// opened and found to be that file).
	if err := info.check(); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, c := range a.byProc {
		if now.Sub(c.at) >= a.ttl {
			delete(a.byProc, k)
		}
	}
	a.byProc[key] = cached{selectors: selectors, at: now}
	return selectors, nil
}

// sha256 hashes the executable, reusing the hash of an unchanged file; it is ErrExecChanged if the
// file opened is not want, the executable seen at accept.
func (a *Attestor) sha256(exe string, want ExeID) (string, error) {
	f, err := os.Open(exe)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return "", err
	}
	if (ExeID{Dev: st.Dev, Ino: st.Ino}) != want {
		return "", ErrExecChanged
	}
	key := fileKey{dev: st.Dev, ino: st.Ino, size: st.Size, ctimeNanos: st.Ctim.Nano()}
	a.mu.Lock()
	sum, ok := a.hashes[key]
	a.mu.Unlock()
	if ok {
		return sum, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	sum = hex.EncodeToString(h.Sum(nil))
	a.mu.Lock()
	if len(a.hashes) > 1024 {
		a.hashes = map[fileKey]string{}
	}
	a.hashes[key] = sum
	a.mu.Unlock()
	return sum, nil
}

// Matches says whether every selector of an entry is among the caller's.
func Matches(entry, caller []string) bool {
	if len(entry) == 0 {
		return false
	}
	for _, want := range entry {
		found := false
		for _, have := range caller {
			if want == have {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
