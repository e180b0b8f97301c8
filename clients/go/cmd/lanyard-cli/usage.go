package main

import (
	"flag"
	"fmt"
	"strings"
)

// The flag package quotes what it refuses ("invalid value \"...\" for flag -limit", "flag provided but
// not defined: -..."), and so would a stray argument's message: a join token or JWT pasted in the wrong
// place would reach the terminal and shell logs. These name it by its position among all the arguments
// (the command's words included, as picocli counts) and its length, never its text, in the Java command
// line's words (tools/.../UsageMessage.java).

// offset is how many words name the command: the index of its first option among all the arguments.
func (f *flags) offset() int { return len(strings.Fields(f.Name())) }

// unmatched is "Unmatched argument at index 3 (412 characters)" or, for several,
// "Unmatched arguments from index 3 (412, 1 characters)".
func unmatched(what string, index int, args []string) string {
	lengths := make([]string, len(args))
	for i, a := range args {
		lengths[i] = fmt.Sprint(characters(a))
	}
	if len(args) == 1 {
		return fmt.Sprintf("%s at index %d (%s characters)", what, index, lengths[0])
	}
	return fmt.Sprintf("%ss from index %d (%s characters)", what, index, strings.Join(lengths, ", "))
}

// refusal says what f.Parse(args) refused with err. Parse stops at the argument it refuses, having
// consumed it (and an option's value) unless its syntax was bad, so what is left says where.
func (f *flags) refusal(args []string, err error) string {
	last := len(args) - len(f.Args()) - 1 // the last argument Parse consumed
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "bad flag syntax"): // "---x", "-=x": not consumed
		return unmatched("Unknown option", f.offset()+last+1, args[last+1:last+2])
	case strings.HasPrefix(msg, "flag provided but not defined"):
		return unmatched("Unknown option", f.offset()+last, args[last:last+1])
	}
	// The option and the value refused: --name=value, or --name then value.
	name, value, inline := strings.Cut(strings.TrimLeft(args[last], "-"), "=")
	if !inline && last > 0 && !strings.HasPrefix(msg, "flag needs an argument") {
		name, value = strings.TrimLeft(args[last-1], "-"), args[last]
	}
	fl := f.Lookup(name)
	if fl == nil { // not an option after all: say no more than where
		return fmt.Sprintf("Invalid argument at index %d", f.offset()+last)
	}
	if strings.HasPrefix(msg, "flag needs an argument") {
		return fmt.Sprintf("Missing required parameter for option '--%s'", fl.Name)
	}
	return fmt.Sprintf("Invalid value for option '--%s': %s is not %s", fl.Name, unnamed("the value", value), kind(fl))
}

// kind names what an option takes, as picocli does.
func kind(fl *flag.Flag) string {
	getter, _ := fl.Value.(flag.Getter)
	if getter == nil {
		return "valid"
	}
	switch getter.Get().(type) {
	case int:
		return "an int"
	case int64:
		return "a long"
	case bool:
		return "a boolean"
	}
	return "valid"
}
