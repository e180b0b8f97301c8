package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestInstantPrintsAsJavaInstantToString(t *testing.T) {
	base := time.Date(2026, 11, 30, 23, 6, 42, 0, time.UTC)
	for nanos, want := range map[int]string{0: "2026-11-30T23:06:42Z", 120_000_000: "2026-11-30T23:06:42.120Z",
		516_588_000: "2026-11-30T23:06:42.516588Z", 1: "2026-11-30T23:06:42.000000001Z"} {
		if got := instant(base.Add(time.Duration(nanos))); got != want {
			t.Errorf("instant(+%d ns) = %s, want %s", nanos, got, want)
		}
	}
	if got := instant(base.In(time.FixedZone("x", 3600))); got != "2026-11-30T23:06:42Z" {
		t.Errorf("a time in another zone prints as %s, not in UTC", got)
	}
}

func TestSerialsAsOpensslPrintsThem(t *testing.T) {
	if got := displaySerial("a1b2c"); got != "0A1B2C" {
		t.Errorf("displaySerial = %s", got)
	}
	for _, in := range []string{"0A1B2C", "serial=0A1B2C", "0a:1b:2c", "0xA1B2C", " a1b2c "} {
		if got, err := parseSerial("--serial", in); err != nil || got != "a1b2c" {
			t.Errorf("parseSerial(%q) = %q, %v", in, got, err)
		}
	}
	_, err := parseSerial("--serial", "zz")
	f, ok := err.(*failure)
	if !ok || f.code != exitUsage || f.render() != "error: --serial (2 characters): not a certificate serial\nhint: give it in hex as"+
		" `lanyard certs list` or `openssl x509 -noout -serial` prints it, e.g. 0A1B2C" {
		t.Errorf("parseSerial(zz) = %v", err)
	}
	// a token pasted as the serial is named by its length only
	pasted := "lyjt_0123456789abcdef0123456789abcdef.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdE"
	_, err = parseSerial("--serial", pasted)
	if f, ok := err.(*failure); !ok || strings.Contains(f.render(), "AbCdEfGh") ||
		!strings.HasPrefix(f.render(), "error: --serial (81 characters): not a certificate serial") {
		t.Errorf("parseSerial(a join token) = %v", err)
	}
}

func TestDurationsParseAndPrintLikeTheServer(t *testing.T) {
	for s, want := range map[int64]string{0: "0s", 45: "45s", 5400: "90m", 7200: "2h", 172800: "2d"} {
		if got := formatDuration(s); got != want {
			t.Errorf("formatDuration(%d) = %s, want %s", s, got, want)
		}
	}
	if d, err := parseDuration("--ttl", "10m"); err != nil || d != 10*time.Minute {
		t.Errorf("parseDuration(10m) = %v, %v", d, err)
	}
	if _, err := parseDuration("--ttl", "PT1H"); err == nil {
		t.Error("ISO-8601 is left to the Java command line (a usage error here), not parsed wrong")
	} else if _, ok := err.(*usageError); !ok {
		t.Errorf("parseDuration(PT1H) = %T, want a usage error", err)
	}
}

func TestTableAlignsColumnsAndTrimsTheLastOne(t *testing.T) {
	var out bytes.Buffer
	printTable(&out, [][]string{{"A", "LONG HEADER", "C"}, {"xyz", "", ""}, {"1", "2", "3…"}})
	want := "A    LONG HEADER  C\nxyz\n1    2            3…\n"
	if out.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", out.String(), want)
	}
}

func TestReasonsByRfcNameOrConstant(t *testing.T) {
	for in, want := range map[string]int32{"keyCompromise": 1, "KEY_COMPROMISE": 1, "key-compromise": 1,
		"privilegeWithdrawn": 9, "unspecified": 0} {
		if got, ok := parseReason(in); !ok || got != want {
			t.Errorf("parseReason(%s) = %d, %v", in, got, ok)
		}
	}
	if _, ok := parseReason("stolen"); ok {
		t.Error("an unknown reason was accepted")
	}
	if reasonName(9) != "privilegeWithdrawn" || reasonName(7) != "reason 7" {
		t.Error("reasonName")
	}
}
