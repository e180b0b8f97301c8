package main

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

var files = []string{"-server", "localhost:8443", "-bundle", "b.pem", "-cert", "c.pem", "-key", "k.pem"}

func TestParseConfigTokenWithScopesAndDefaults(t *testing.T) {
	c, err := parseConfig(append(files, "-kind", "token", "-audience", "payments", "-scope", "a", "-scope", "b",
		"-duration", "2s", "-warmup", "0s", "-handshake"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.kind != "token" || c.audience != "payments" || strings.Join(c.scopes, ",") != "a,b" ||
		c.duration != 2*time.Second || c.warmup != 0 || !c.handshake || c.concurrency != 4 || c.csrs != 1000 {
		t.Fatalf("parsed %+v", c)
	}
}

func TestParseConfigPing(t *testing.T) {
	c, err := parseConfig(append(files, "-kind", "ping", "-concurrency", "16"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.kind != "ping" || c.concurrency != 16 {
		t.Fatalf("parsed %+v", c)
	}
}

func TestParseConfigRefusesBadArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-kind", "issue"}, "missing -server, -bundle, -cert, -key"},
		{append(files, "-kind", "renew"), `-kind must be issue, token or ping, not "renew"`},
		{files, "missing -kind"},
		{append(files, "-kind", "token"), "-kind token needs -audience"},
		{append(files, "-kind", "issue", "-concurrency", "0"), "must be positive"},
		{append(files, "-kind", "issue", "-duration", "0s"), "must be positive"},
		{append(files, "-kind", "issue", "-warmup", "-1s"), "-warmup not negative"},
		{append(files, "-kind", "issue", "extra"), `unexpected arguments: ["extra"]`},
		{append(files, "-kind", "issue", "-duration", "soon"), "invalid value"},
	} {
		_, err := parseConfig(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseConfig(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestReportJSONIsWhatLanyardBenchReads(t *testing.T) {
	lat := []time.Duration{}
	for i := 100; i >= 1; i-- {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	r := summarize(config{kind: "issue", concurrency: 2, duration: 2 * time.Second}, lat,
		map[string]int64{"UNAVAILABLE": 3}, 1500*time.Millisecond)
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"issue","concurrency":2,"seconds":2,"operations":100,"errors":{"UNAVAILABLE":3},` +
		`"p50_ms":50,"p99_ms":99,"cpu_seconds":1.5}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
}

func TestCodeNamesAreTheSpecificationsNames(t *testing.T) {
	for c, want := range map[codes.Code]string{codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
		codes.Unavailable: "UNAVAILABLE", codes.Canceled: "CANCELLED", codes.DeadlineExceeded: "DEADLINE_EXCEEDED"} {
		if got := codeName(c); got != want {
			t.Errorf("codeName(%v) = %q, want %q", c, got, want)
		}
	}
}

func TestPercentileOfNoneIsZero(t *testing.T) {
	if p := percentile(nil, 0.99); p != 0 {
		t.Fatalf("percentile(nil) = %v", p)
	}
}
