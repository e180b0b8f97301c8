// Package printable shortens attacker-chosen text for error messages.
package printable

import "strings"

// Of keeps s to 64 bytes and replaces control characters, so a token or JWKS cannot write
// megabytes or terminal escapes into a caller's logs through an error message.
func Of(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
