package verify

import (
	"errors"
	"strings"
	"testing"
)

func shapeRefusal(t *testing.T, json string) string {
	t.Helper()
	err := checkJSON([]byte(json), "payload")
	if err == nil {
		return "accepted"
	}
	var e *Error
	if !errors.As(err, &e) || e.Class != Malformed {
		t.Fatalf("want a malformed refusal, got %v", err)
	}
	return e.Reason
}

func TestCheckJSON(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`{"a":[1,{"b":null}],"c":"\u00e9\ud83d\ude00"}`, "accepted"},
		{`{"c":[{"x":1},{"x":1}]}`, "accepted"},
		{`{"a":1,"a":2}`, `the payload names member "a" twice`},
		{`{"c":{"x":1,"x":1}}`, `the payload names member "x" twice`},
		{`{"a":"\ud800"}`, "the payload holds a lone surrogate or U+FFFD (a character that stood for bad bytes)"},
		{"{\"a\":\"\uFFFD\"}", "the payload holds a lone surrogate or U+FFFD (a character that stood for bad bytes)"},
		{"{\"a\":\"\xff\"}", "the payload is not UTF-8"},
		{`{"a":1} x`, "the payload has data after its JSON object"},
		{`[1]`, "the payload is not a JSON object"},
		{`{'a':1}`, "the payload is not JSON"},
		{`{"a":` + strings.Repeat("[", 31) + strings.Repeat("]", 31) + `}`, "accepted"},
		{`{"a":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `}`, "the payload nests deeper than 32 levels"},
		{`{"a":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`, "the payload nests deeper than 32 levels"},
	} {
		if got := shapeRefusal(t, tc.json); got != tc.want {
			t.Errorf("%.60q: want %q, got %q", tc.json, tc.want, got)
		}
	}
}

func TestPartsAreCanonicalUnpaddedBase64url(t *testing.T) {
	if _, err := parts("e30.e30.AAAA"); err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]string{
		"e30.e30.AA==":   "the signature is not canonical unpadded base64url",
		"e30.e30.AB":     "the signature is not canonical unpadded base64url",
		"e30.e3+.AA":     "the payload is not canonical unpadded base64url",
		"e30.e30.A":      "the signature is not canonical unpadded base64url",
		"e30\n.e30.AAAA": "the header is not canonical unpadded base64url",
		"e30.e30":        "not a compact JWS (three base64url parts separated by dots)",
	} {
		_, err := parts(token)
		var e *Error
		if !errors.As(err, &e) || e.Reason != want {
			t.Errorf("%q: want %q, got %v", token, want, err)
		}
	}
}
