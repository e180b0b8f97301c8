package main

import (
	"errors"
	"strings"
	"testing"
)

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

// What the flag package refuses is named by its position among all the arguments and its length
// (usage_test.go runs the same against the server with a real JWT and join token).
func TestAFlagRefusalNamesTheArgumentByPositionAndLength(t *testing.T) {
	s := strings.Repeat("s3cr3t", 10)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--limit", s}, "Invalid value for option '--limit': the value (60 characters) is not an int"},
		{[]string{"--server", "a:1", "-limit=" + s}, "Invalid value for option '--limit': the value (60 characters) is not an int"},
		{[]string{"--after", s}, "Invalid value for option '--after': the value (60 characters) is not a long"},
		{[]string{"--force=" + s}, "Invalid value for option '--force': the value (60 characters) is not a boolean"},
		{[]string{"--server", "a:1", "--" + s}, "Unknown option at index 4 (62 characters)"},
		{[]string{"--=" + s}, "Unknown option at index 2 (63 characters)"},
		{[]string{"--server"}, "Missing required parameter for option '--server'"},
		{[]string{"--force", s, "x"}, "Unmatched arguments from index 3 (60, 1 characters)"},
		{[]string{"--", s}, "Unmatched argument at index 3 (60 characters)"},
	} {
		f := newFlags("certs list")
		f.Int("limit", 0, "")
		f.Int64("after", 0, "")
		f.Bool("force", false, "")
		f.String("server", "", "")
		err := f.parse(tc.args)
		var usage *usageError
		if !errors.As(err, &usage) || usage.message != tc.want {
			t.Errorf("parse(%q) = %v, want %q", tc.args, err, tc.want)
		}
	}
}
