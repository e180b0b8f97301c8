// Command lanyard-cli serves the `lanyard` verbs that call a running server (registration, join-token,
// certs, cert, token, revoke, reinstate, revocations, keys, audit tail, contracts list, console) with the same flags,
// output and exit status as the Java command line (tools/), in a few milliseconds of CPU instead of
// a JVM's second: ./lanyard runs it for those verbs when Go is present. What it does not serve (help,
// a usage error, any other verb or subcommand) it hands back to ./lanyard with exit status 125, and
// the Java command line answers, so help texts and usage messages exist once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// env is what one run reads and writes; tests give their own.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	ctx            context.Context
	// the --server and connection of the call made, for explaining a failure
	server string
	conn   *connection
}

type command struct {
	path string // "registration list"
	run  func(e *env, args []string) error
}

// commands are the verbs served here, by their full path.
var commands = []command{
	{"registration create", registrationCreate},
	{"registration list", registrationList},
	{"registration delete", registrationDelete},
	{"join-token create", joinTokenCreate},
	{"certs list", certsList},
	{"keys list", keysList},
	{"console", consoleLogin},
	{"revoke", revoke},
	{"reinstate", reinstate},
	{"revocations list", revocationsList},
	{"revocations watch", revocationsWatch},
	{"contracts list", contractsList},
	{"audit tail", auditTail},
	{"token issue", tokenIssue},
	{"cert issue", certIssue},
	{"cert renew", certRenew},
}

func main() {
	e := &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, now: time.Now, ctx: context.Background()}
	os.Exit(run(e, os.Args[1:]))
}

// run runs one command line and returns its exit status.
func run(e *env, args []string) int {
	deferring := e.getenv("LANYARD_CLI_DEFER") == "1"
	cmd, rest := find(args)
	if cmd == nil || asksForHelp(rest) {
		if deferring {
			return exitDefer
		}
		// The arguments are not repeated: they may hold a join token.
		fmt.Fprintln(e.stderr, "lanyard-cli: help, and every command but the server-calling verbs, is answered by the"+
			" Java command line; run it through ./lanyard")
		return exitUsage
	}
	err := cmd.run(e, rest)
	if err == nil {
		return exitOK
	}
	var usage *usageError
	if errors.As(err, &usage) {
		if deferring {
			return exitDefer
		}
		fmt.Fprintf(e.stderr, "error: %s\nhint: `lanyard %s --help` shows its options and an example\n", usage.message, cmd.path)
		return exitUsage
	}
	f := explain(err, e.server, e.conn)
	fmt.Fprintln(e.stderr, f.render())
	if verbose(rest, e) {
		fmt.Fprintf(e.stderr, "cause: %v\n", err)
	}
	return f.code
}

// find is the served command args name (one or two words), and the arguments after them.
func find(args []string) (*command, []string) {
	for i := range commands {
		words := strings.Fields(commands[i].path)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == commands[i].path {
			return &commands[i], args[len(words):]
		}
	}
	return nil, nil
}

func asksForHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "--help", "-help", "-V", "--version", "help":
			return true
		}
	}
	return false
}

func verbose(args []string, e *env) bool {
	for _, a := range args {
		if a == "--verbose" {
			return true
		}
	}
	return e.getenv("LANYARD_VERBOSE") == "1"
}

// flags is one command's options, parsed as picocli parses them for the Java command: --name VALUE
// or --name=VALUE, repeatable options collected in order.
type flags struct {
	*flag.FlagSet
	required []string
}

func newFlags(name string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.Bool("verbose", false, "on failure, print the cause too")
	return &flags{FlagSet: fs}
}

// list is a repeatable option.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func (f *flags) list(name string) *list {
	l := &list{}
	f.Var(l, name, "")
	return l
}

// parse parses args; a malformed line, a stray argument or a missing required option is a usage error.
func (f *flags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		return &usageError{f.refusal(args, err)}
	}
	if name := f.repeated(args); name != "" {
		return &usageError{fmt.Sprintf("option '--%s' should be specified only once", name)}
	}
	if f.NArg() > 0 {
		return &usageError{unmatched("Unmatched argument", f.offset()+len(args)-f.NArg(), f.Args())}
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	for _, name := range f.required {
		if !set[name] {
			return &usageError{fmt.Sprintf("Missing required option: '--%s'", name)}
		}
	}
	return nil
}

// repeated is an option given twice that takes one value (picocli refuses that; flag keeps the last).
func (f *flags) repeated(args []string) string {
	seen := map[flag.Value]string{} // by value: -n and --lines are one option
	for i := 0; i < len(args); i++ {
		if args[i] == "--" || !strings.HasPrefix(args[i], "-") {
			return ""
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		fl := f.Lookup(name)
		if fl == nil {
			continue
		}
		if _, many := fl.Value.(*list); !many {
			if first, twice := seen[fl.Value]; twice && fl.Name != "verbose" {
				if len(first) > len(fl.Name) {
					return first
				}
				return fl.Name
			}
			seen[fl.Value] = fl.Name
		}
		if b, ok := fl.Value.(interface{ IsBoolFlag() bool }); !hasValue && !(ok && b.IsBoolFlag()) {
			i++ // its value
		}
	}
	return ""
}

func (f *flags) require(names ...string) { f.required = append(f.required, names...) }

// given says whether the option was on the command line.
func (f *flags) given(name string) bool {
	seen := false
	f.Visit(func(fl *flag.Flag) { seen = seen || fl.Name == name })
	return seen
}

// serverFlag is --server, defaulting to LANYARD_SERVER or localhost:8443.
func serverFlag(f *flags, e *env) *string {
	def := e.getenv("LANYARD_SERVER")
	if def == "" {
		def = "localhost:8443"
	}
	return f.String("server", def, "the server's gRPC address HOST:PORT")
}
