package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// printTable prints aligned plain-text columns, as tools/.../Table.java does.
func printTable(out io.Writer, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		var line strings.Builder
		for i, cell := range row {
			line.WriteString(cell)
			if i < len(row)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]+2-utf8.RuneCountInString(cell)))
			}
		}
		fmt.Fprintln(out, strings.TrimRight(line.String(), " \t"))
	}
}

// instant prints a time as Java's Instant.toString does: UTC, seconds always, and a fraction of 3, 6
// or 9 digits only when there is one.
func instant(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02T15:04:05")
	if n := t.Nanosecond(); n != 0 {
		switch {
		case n%1_000_000 == 0:
			s += fmt.Sprintf(".%03d", n/1_000_000)
		case n%1_000 == 0:
			s += fmt.Sprintf(".%06d", n/1_000)
		default:
			s += fmt.Sprintf(".%09d", n)
		}
	}
	return s + "Z"
}

// seconds is a timestamp to the second (what the Java commands print with Instant.ofEpochSecond(s)).
func seconds(t *timestamppb.Timestamp) string { return instant(time.Unix(t.GetSeconds(), 0)) }

// precise is a timestamp with its fraction.
func precise(t *timestamppb.Timestamp) string {
	return instant(time.Unix(t.GetSeconds(), int64(t.GetNanos())))
}

// displaySerial prints the server's hex (lower case, no leading zeros) as openssl does: upper case,
// an even number of digits.
func displaySerial(serverHex string) string {
	if serverHex == "" {
		return ""
	}
	upper := strings.ToUpper(serverHex)
	if len(upper)%2 == 1 {
		return "0" + upper
	}
	return upper
}

var hexSerial = regexp.MustCompile(`^[0-9A-Fa-f]{1,64}$`)

// parseSerial accepts openssl's form, colons, a serial= prefix or the server's hex, and returns the
// server's form (tools/.../Serials.java).
func parseSerial(option, input string) (string, error) {
	hex := strings.TrimSpace(input)
	if len(hex) >= 7 && strings.EqualFold(hex[:7], "serial=") {
		hex = hex[7:]
	}
	hex = strings.ReplaceAll(hex, ":", "")
	if strings.HasPrefix(hex, "0x") || strings.HasPrefix(hex, "0X") {
		hex = hex[2:]
	}
	if !hexSerial.MatchString(hex) {
		return "", fail(unnamed(option, input), "not a certificate serial", "give it in hex as `lanyard certs list` or"+
			" `openssl x509 -noout -serial` prints it, e.g. 0A1B2C", exitUsage)
	}
	n, _ := new(big.Int).SetString(hex, 16)
	return n.Text(16), nil
}

var simpleDuration = regexp.MustCompile(`^(\d+)(ms|s|m|h|d)$`)

// parseDuration takes "90s", "10m", "1h", "7d" (the server's syntax). Anything else, ISO-8601
// included, is left to the Java command line, which parses it or says why not.
func parseDuration(option, text string) (time.Duration, error) {
	m := simpleDuration.FindStringSubmatch(strings.TrimSpace(text))
	if m == nil {
		return 0, &usageError{fmt.Sprintf("Invalid value for option '%s': %s is not a duration; use e.g. 30s, 10m,"+
			" 1h, 7d or PT1H", option, unnamed("the value", text))}
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, &usageError{fmt.Sprintf("Invalid value for option '%s': %s is too long", option,
			unnamed("the value", text))}
	}
	unit := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
		"d": 24 * time.Hour}[m[2]]
	return time.Duration(n) * unit, nil
}

// formatDuration is the shortest exact form, "1h", "90m", "45s" (dev.lanyard.server.Durations.format).
func formatDuration(s int64) string {
	switch {
	case s > 0 && s%86400 == 0:
		return strconv.FormatInt(s/86400, 10) + "d"
	case s > 0 && s%3600 == 0:
		return strconv.FormatInt(s/3600, 10) + "h"
	case s > 0 && s%60 == 0:
		return strconv.FormatInt(s/60, 10) + "m"
	}
	return strconv.FormatInt(s, 10) + "s"
}

// reasons are the RFC 5280 CRLReason codes an admin may give, by their RFC names.
var reasons = []struct {
	code          int32
	rfc, constant string
}{
	{0, "unspecified", "UNSPECIFIED"}, {1, "keyCompromise", "KEY_COMPROMISE"}, {2, "cACompromise", "CA_COMPROMISE"},
	{3, "affiliationChanged", "AFFILIATION_CHANGED"}, {4, "superseded", "SUPERSEDED"},
	{5, "cessationOfOperation", "CESSATION_OF_OPERATION"}, {6, "certificateHold", "CERTIFICATE_HOLD"},
	{9, "privilegeWithdrawn", "PRIVILEGE_WITHDRAWN"},
}

// parseReason accepts the RFC name or the constant, any case, with - or _ (RevocationReason.parse).
func parseReason(text string) (int32, bool) {
	wanted := strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(text, "-", "_"), "_", ""))
	for _, r := range reasons {
		if strings.ToLower(r.rfc) == wanted || strings.ToLower(strings.ReplaceAll(r.constant, "_", "")) == wanted {
			return r.code, true
		}
	}
	return 0, false
}

func reasonName(code int32) string {
	for _, r := range reasons {
		if r.code == code {
			return r.rfc
		}
	}
	return "reason " + strconv.Itoa(int(code))
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// fingerprint is the lower-case hex SHA-256 of a certificate's DER.
func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}
