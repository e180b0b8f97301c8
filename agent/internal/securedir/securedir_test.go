package securedir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestAnAbsentDirectoryIsCreatedWithTheModeAsked(t *testing.T) {
	base := t.TempDir()
	sock := filepath.Join(base, "lanyard")
	data := filepath.Join(sock, "agent-data")
	if err := Ensure(sock, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Ensure(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, sock); m != 0o755 {
		t.Fatalf("socket directory mode %04o", m)
	}
	if m := mode(t, data); m != 0o700 {
		t.Fatalf("data directory mode %04o", m)
	}
	// Again: what it made passes the check.
	if err := Ensure(data, 0o700); err != nil {
		t.Fatal(err)
	}
}

func refused(t *testing.T, dir string, perm os.FileMode, want ...string) {
	t.Helper()
	err := Ensure(dir, perm)
	if err == nil {
		t.Fatalf("%s was accepted", dir)
	}
	for _, w := range append(want, dir) {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("the refusal %q does not say %q", err, w)
		}
	}
}

func TestADirectoryOthersCanWriteIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lanyard")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777) // past the umask, as a local user would leave it
	refused(t, dir, 0o755, "mode 0777", "writable")
	os.Chmod(dir, 0o775)
	refused(t, dir, 0o755, "mode 0775", "writable")
}

func TestADataDirectoryOthersCanReadIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "agent-data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	refused(t, dir, 0o700, "mode 0755", "0700")
}

func TestADirectoryOfAnotherUserIsRefused(t *testing.T) {
	needRoot(t)
	dir := filepath.Join(t.TempDir(), "lanyard")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	refused(t, dir, 0o755, "owned by uid 65534")
	// Also when reached through a symlink of this uid.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	refused(t, link, 0o755, "owned by uid 65534")
}

func TestADirectoryInsideOneOthersCanWriteIsRefused(t *testing.T) {
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777)
	dir := filepath.Join(open, "agent-data")
	refused(t, dir, 0o700, "inside "+open, "0777")
	// A sticky one (like /tmp) is fine: others cannot rename or remove what is ours in it.
	os.Chmod(open, 0o777|os.ModeSticky)
	if err := Ensure(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

func TestASymlinkOfAnotherUserIsRefused(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	target := filepath.Join(base, "real")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "lanyard")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	refused(t, link, 0o755, "symlink owned by uid 65534")
}

// needRoot fails (not skips) without root, as the agent's other tests of other uids do.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("LANYARD_SKIP_UID_TESTS") == "true" {
			t.Skip("LANYARD_SKIP_UID_TESTS=true: directories of other uids are not tested")
		}
		t.Fatal("this test gives a directory to another uid and needs root; set LANYARD_SKIP_UID_TESTS=true to skip it on purpose")
	}
}
