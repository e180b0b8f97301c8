package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/status"
)

// childEnv makes the test binary a small Workload API client (run under another uid, or from a
// copied binary): it prints the SPIFFE IDs it got, or the gRPC code it was refused with.
const childEnv = "LANYARD_AGENT_TEST_CHILD"

func childMain(addr string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	svids, err := workloadapi.FetchX509SVIDs(ctx, workloadapi.WithAddr(addr))
	if err != nil {
		fmt.Println("error", status.Code(err))
		return 0
	}
	var ids []string
	for _, s := range svids {
		ids = append(ids, s.ID.String())
	}
	fmt.Println("ids", strings.Join(ids, ","))
	return 0
}

// runChild runs binary (the test binary or a copy) as uid:gid against the agent and returns its answer.
func runChild(t *testing.T, binary string, uid, gid uint32, addr string) string {
	t.Helper()
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), childEnv+"="+addr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child as uid %d: %v\n%s", uid, err, out)
	}
	return strings.TrimSpace(string(out))
}

// needRoot fails (not skips) without root: running processes under other uids is what these tests check.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		if os.Getenv("LANYARD_SKIP_UID_TESTS") == "true" {
			t.Skip("LANYARD_SKIP_UID_TESTS=true: processes under other uids are not tested")
		}
		t.Fatal("this test runs processes under other uids and needs root; set LANYARD_SKIP_UID_TESTS=true to skip it on purpose")
	}
}
