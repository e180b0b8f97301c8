package verify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/lanyard-dev/lanyard/clients/go/internal/printable"
)

// maxDepth bounds how deeply a header or payload may nest, as in the Java and Rust verifiers.
const maxDepth = 32

// The shape rules every Lanyard verifier applies before it trusts a parser with a token: three
// canonical base64url parts, and a header and payload that are UTF-8 JSON objects with no member
// named twice at any depth, no string holding U+FFFD or a lone surrogate, and at most maxDepth
// levels of nesting. JSON parsers disagree on exactly these (encoding/json keeps the last duplicate
// and silently replaces bad bytes), so a token relying on them is refused, not read one way here
// and another way in Java or Rust.

// parts splits a compact JWS into its three parts, each canonical unpadded base64url, decoded.
func parts(token string) ([3][]byte, error) {
	var out [3][]byte
	split := strings.Split(token, ".")
	if len(split) != 3 {
		return out, refuse(Malformed, "not a compact JWS (three base64url parts separated by dots)")
	}
	for i, name := range []string{"header", "payload", "signature"} {
		// Strict refuses non-zero trailing bits; the alphabet check refuses the \r and \n the decoder skips.
		decoded, err := base64.RawURLEncoding.Strict().DecodeString(split[i])
		if err != nil || strings.Trim(split[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return out, refuse(Malformed, "the %s is not canonical unpadded base64url", name)
		}
		out[i] = decoded
	}
	return out, nil
}

// checkJSON refuses a header or payload (part) that breaks the shape rules.
func checkJSON(data []byte, part string) error {
	if !utf8.Valid(data) {
		return refuse(Malformed, "the %s is not UTF-8", part)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	first, err := dec.Token()
	if err != nil || first != json.Delim('{') {
		return refuse(Malformed, "the %s is not a JSON object", part)
	}
	type level struct {
		object bool
		names  map[string]struct{}
		key    bool // an object expecting a member name next
	}
	stack := []*level{{object: true, names: map[string]struct{}{}, key: true}}
	for len(stack) > 0 {
		tok, err := dec.Token()
		if err != nil {
			return refuse(Malformed, "the %s is not JSON", part)
		}
		top := stack[len(stack)-1]
		if s, ok := tok.(string); ok && strings.ContainsRune(s, utf8.RuneError) {
			// encoding/json turns a lone surrogate escape into U+FFFD; both are refused.
			return refuse(Malformed, "the %s holds a lone surrogate or U+FFFD (a character that stood for bad bytes)", part)
		}
		if top.object && top.key {
			if tok == json.Delim('}') {
				stack = stack[:len(stack)-1]
				continue
			}
			name := tok.(string) // the decoder only yields a string where a member name goes
			if _, dup := top.names[name]; dup {
				return refuse(Malformed, "the %s names member %q twice", part, printable.Of(name))
			}
			top.names[name] = struct{}{}
			top.key = false
			continue
		}
		top.key = top.object
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxDepth {
				return refuse(Malformed, "the %s nests deeper than %d levels", part, maxDepth)
			}
			object := tok == json.Delim('{')
			stack = append(stack, &level{object: object, names: map[string]struct{}{}, key: object})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return refuse(Malformed, "the %s has data after its JSON object", part)
	}
	return nil
}
