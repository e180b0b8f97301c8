package main

import "testing"

func TestAnOptionGivenTwiceIsAUsageErrorUnlessRepeatable(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--server", "a:1", "--server", "b:2"}, "server"},
		{[]string{"-n", "1", "--lines=2"}, "lines"},
		{[]string{"--note", "--server", "--server", "a:1"}, ""}, // "--server" is --note's value
		{[]string{"--dns", "a", "--dns", "b", "--follow", "--verbose", "--verbose"}, ""},
	} {
		f := newFlags("t")
		f.String("server", "", "")
		f.String("note", "", "")
		lines := f.Int("lines", 0, "")
		f.IntVar(lines, "n", 0, "")
		f.list("dns")
		f.Bool("follow", false, "")
		if got := f.repeated(tc.args); got != tc.want {
			t.Errorf("repeated(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}
