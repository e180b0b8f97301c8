// Package peer attests the local process on the other end of the Workload API socket from what the
// kernel says: pid, uid and gid by SO_PEERCRED at accept, then the executable's path and SHA-256
// through /proc/<pid>/exe, and a check that the pid still names the same process (its start time)
// after everything was read, so a process that exited and whose pid was reused cannot pass.
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
	credentials.CommonAuthInfo
}

// AuthType names the mechanism for gRPC.
func (Info) AuthType() string { return "unix-peercred" }

// Credentials are gRPC transport credentials for a unix socket that read SO_PEERCRED at accept.
type Credentials struct{}

// ServerHandshake records the peer's pid, uid, gid and process start time.
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
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, nil, err
	}
	if credErr != nil {
		return nil, nil, fmt.Errorf("peer: SO_PEERCRED: %w", credErr)
	}
	start, err := StartTime(cred.Pid)
	if err != nil {
		return nil, nil, fmt.Errorf("peer: the calling process %d: %w", cred.Pid, err)
	}
	return conn, Info{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid, StartTime: start,
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}, nil
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

type procKey struct {
	pid   int32
	start uint64
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

// Selectors are the caller's unix:uid, unix:gid, unix:user, unix:path and unix:sha256 selectors.
func (a *Attestor) Selectors(info Info) ([]string, error) {
	key := procKey{info.PID, info.StartTime}
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
	if sum, err := a.sha256(exe); err == nil {
		selectors = append(selectors, "unix:sha256:"+sum)
	}
	// Everything above was read through the pid: it counts only if the pid still names the process
	// that connected.
	if start, err := StartTime(info.PID); err != nil || start != info.StartTime {
		return nil, ErrGone
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

// sha256 hashes the executable, reusing the hash of an unchanged file.
func (a *Attestor) sha256(exe string) (string, error) {
	f, err := os.Open(exe)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return "", err
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
