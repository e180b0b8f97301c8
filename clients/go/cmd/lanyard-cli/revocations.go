package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

func revoke(e *env, args []string) error {
	f := newFlags("revoke")
	a := adminFlags(f, e)
	serial, id, jti := f.String("serial", "", ""), f.String("spiffe-id", "", ""), f.String("jti", "", "")
	reason := f.String("reason", "unspecified", "")
	note := f.String("note", "", "")
	force := f.Bool("force", false, "")
	if err := f.parse(args); err != nil {
		return err
	}
	given := 0
	for _, name := range []string{"serial", "spiffe-id", "jti"} {
		if f.given(name) {
			given++
		}
	}
	if given != 1 {
		return &usageError{"give exactly one of --serial, --spiffe-id and --jti"}
	}
	if *force && !f.given("spiffe-id") {
		return &usageError{"--force goes with --spiffe-id only"}
	}
	code, ok := parseReason(*reason)
	if !ok {
		return &usageError{"unknown " + unnamed("--reason", *reason)}
	}
	target := &lanyardv1.RevocationTarget{}
	switch {
	case f.given("serial"):
		hex, err := parseSerial("--serial", *serial)
		if err != nil {
			return err
		}
		target.Target = &lanyardv1.RevocationTarget_Serial{Serial: hex}
	case f.given("spiffe-id"):
		target.Target = &lanyardv1.RevocationTarget_SpiffeId{SpiffeId: *id}
	default:
		target.Target = &lanyardv1.RevocationTarget_Jti{Jti: *jti}
	}
	return a.call(e, func(ctx context.Context, conn *connection) error {
		resp, err := lanyardv1.NewRevocationServiceClient(conn).Revoke(ctx, &lanyardv1.RevokeRequest{Target: target,
			Reason: lanyardv1.RevocationReason(code), Note: *note, Force: *force})
		if s, ok := status.FromError(err); err != nil && ok && s.Code() == codes.NotFound && f.given("spiffe-id") {
			return fail(*a.server, "refused: NOT_FOUND: "+s.Message(), "check the SPIFFE ID (`lanyard registration list`);"+
				" to refuse an identity before it exists, run the same command with --force", exitRefused)
		}
		if err != nil {
			return err
		}
		r := resp.GetRevocation()
		verb := "revoked"
		if !resp.GetCreated() {
			verb = "already revoked:"
		}
		fmt.Fprintf(e.stdout, "%s %s (%s), sequence %d\n", verb, describeTarget(r.GetTarget()), reasonName(int32(r.GetReason())),
			r.GetSequence())
		if serials := resp.GetRevokedSerials(); len(serials) > 0 {
			shown := make([]string, len(serials))
			for i, s := range serials {
				shown[i] = displaySerial(s)
			}
			fmt.Fprintln(e.stdout, "with its certificates: "+strings.Join(shown, ", "))
		}
		return nil
	})
}

func reinstate(e *env, args []string) error {
	f := newFlags("reinstate")
	a := adminFlags(f, e)
	id := f.String("spiffe-id", "", "")
	note := f.String("note", "", "")
	f.require("spiffe-id")
	if err := f.parse(args); err != nil {
		return err
	}
	return a.call(e, func(ctx context.Context, conn *connection) error {
		resp, err := lanyardv1.NewRevocationServiceClient(conn).Reinstate(ctx, &lanyardv1.ReinstateRequest{SpiffeId: *id,
			Note: *note})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "reinstated %s, sequence %d\n", *id, resp.GetSequence())
		return nil
	})
}

func revocationsList(e *env, args []string) error {
	f := newFlags("revocations list")
	a := adminFlags(f, e)
	id := f.String("spiffe-id", "", "")
	kind := f.String("kind", "", "")
	if err := f.parse(args); err != nil {
		return err
	}
	return a.call(e, func(ctx context.Context, conn *connection) error {
		rows := [][]string{{"SEQ", "KIND", "TARGET", "REASON", "REVOKED AT", "BY", "EXPIRES", "NOTE"}}
		token := ""
		for {
			page, err := lanyardv1.NewRevocationServiceClient(conn).ListRevocations(ctx, &lanyardv1.ListRevocationsRequest{
				SpiffeId: *id, Kind: *kind, PageSize: 1000, PageToken: token})
			if err != nil {
				return err
			}
			for _, v := range page.GetRevocations() {
				expires := "never"
				if v.GetExpiresAt() != nil {
					expires = precise(v.GetExpiresAt())
				}
				rows = append(rows, []string{strconv.FormatInt(v.GetSequence(), 10), targetKind(v.GetTarget()),
					targetValue(v.GetTarget()), reasonName(int32(v.GetReason())), precise(v.GetRevokedAt()), v.GetRevokedBy(),
					expires, strings.ReplaceAll(v.GetNote(), "\n", " ")})
			}
			if token = page.GetNextPageToken(); token == "" {
				break
			}
		}
		printTable(e.stdout, rows)
		return nil
	})
}

func describeTarget(t *lanyardv1.RevocationTarget) string {
	if targetKind(t) == "spiffe_id" {
		return targetValue(t)
	}
	return targetKind(t) + " " + targetValue(t)
}

func targetKind(t *lanyardv1.RevocationTarget) string {
	switch t.GetTarget().(type) {
	case *lanyardv1.RevocationTarget_Serial:
		return "serial"
	case *lanyardv1.RevocationTarget_SpiffeId:
		return "spiffe_id"
	case *lanyardv1.RevocationTarget_Jti:
		return "jti"
	}
	return "?"
}

func targetValue(t *lanyardv1.RevocationTarget) string {
	switch v := t.GetTarget().(type) {
	case *lanyardv1.RevocationTarget_Serial:
		return displaySerial(v.Serial)
	case *lanyardv1.RevocationTarget_SpiffeId:
		return v.SpiffeId
	case *lanyardv1.RevocationTarget_Jti:
		return v.Jti
	}
	return ""
}

// revocationsWatch prints every revocation as it happens, resuming after the last one seen when the
// stream drops.
func revocationsWatch(e *env, args []string) error {
	f := newFlags("revocations watch")
	a := adminFlags(f, e)
	in := f.String("in", "", "")
	after := f.Int64("after", 0, "")
	count := f.Int("count", 0, "")
	heartbeats := f.Bool("heartbeats", false, "")
	if err := f.parse(args); err != nil {
		return err
	}
	var cred *credential
	var err error
	if f.given("in") {
		cred, err = readCredential(*in, "--in", "`lanyard cert issue --out DIR`")
	} else {
		cred, err = a.credential()
	}
	if err != nil {
		return err
	}
	conn, err := connectWith(e, *a.server, cred)
	if err != nil {
		return err
	}
	defer conn.Close()
	last, seen := *after, 0
	backoff := 500 * time.Millisecond
	for {
		stream, err := lanyardv1.NewRevocationServiceClient(conn).WatchRevocations(e.ctx,
			&lanyardv1.WatchRevocationsRequest{AfterSequence: last})
		for err == nil {
			var event *lanyardv1.RevocationEvent
			if event, err = stream.Recv(); err != nil {
				break
			}
			backoff = 500 * time.Millisecond
			if hb := event.GetHeartbeat(); hb != nil {
				if *heartbeats {
					fmt.Fprintf(e.stdout, "%d heartbeat %s\n", event.GetSequence(), precise(hb.GetServerTime()))
				}
				continue
			}
			fmt.Fprintln(e.stdout, describeEvent(event))
			last = event.GetSequence()
			if seen++; *count > 0 && seen >= *count {
				return nil
			}
		}
		if !errors.Is(err, io.EOF) {
			if s, _ := status.FromError(err); s.Code() != codes.Unavailable {
				return err
			}
			fmt.Fprintf(e.stderr, "stream lost (%s); resuming after sequence %d in %d ms\n", status.Convert(err).Message(),
				last, backoff.Milliseconds())
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, 10*time.Second)
	}
}

func describeEvent(event *lanyardv1.RevocationEvent) string {
	if r := event.GetReinstated(); r != nil {
		return fmt.Sprintf("%d reinstated %s by %s", event.GetSequence(), r.GetSpiffeId(), r.GetReinstatedBy())
	}
	r := event.GetRevoked()
	id := ""
	if r.GetSpiffeId() != "" {
		id = " [" + r.GetSpiffeId() + "]"
	}
	return fmt.Sprintf("%d revoked %s (%s) by %s%s", event.GetSequence(), describeTarget(r.GetTarget()),
		reasonName(int32(r.GetReason())), r.GetRevokedBy(), id)
}
