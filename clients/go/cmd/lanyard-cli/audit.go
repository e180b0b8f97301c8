package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

// auditTail prints the newest records, oldest of them first; --follow then keeps one server stream
// open (audited once), resumed after the last record printed if the connection drops.
func auditTail(e *env, args []string) error {
	f := newFlags("audit tail")
	a := adminFlags(f, e)
	lines := f.Int("lines", 20, "")
	f.IntVar(lines, "n", 20, "")
	follow := f.Bool("follow", false, "")
	f.BoolVar(follow, "f", false, "")
	count := f.Int("count", 0, "")
	actor, action := f.String("actor", "", ""), f.String("action", "", "")
	target, outcome := f.String("target", "", ""), f.String("outcome", "", "")
	if err := f.parse(args); err != nil {
		return err
	}
	filters := func() *lanyardv1.ListAuditRequest {
		return &lanyardv1.ListAuditRequest{Actor: *actor, ActionPrefix: *action, Target: *target, Outcome: *outcome}
	}
	conn, err := a.connect(e)
	if err != nil {
		return err
	}
	defer conn.Close()
	audit := lanyardv1.NewAuditServiceClient(conn)
	ctx, cancel := e.deadline(adminDeadline)
	defer cancel()
	req := filters()
	req.NewestFirst = true
	req.PageSize = int32(min(max(*lines, 1), 1000))
	newest, err := audit.ListAudit(ctx, req)
	if err != nil {
		return err
	}
	records := newest.GetRecords()
	var last int64
	for i := len(records) - 1; i >= 0; i-- {
		fmt.Fprintln(e.stdout, auditLine(records[i]))
		last = records[i].GetId()
	}
	if !*follow {
		return nil
	}
	seen := 0
	backoff := 500 * time.Millisecond
	for {
		req := filters()
		req.AfterId = last
		stream, err := audit.FollowAudit(e.ctx, req)
		for err == nil {
			var r *lanyardv1.AuditRecord
			if r, err = stream.Recv(); err == nil {
				fmt.Fprintln(e.stdout, auditLine(r))
				last = r.GetId()
				backoff = 500 * time.Millisecond
				if seen++; *count > 0 && seen >= *count {
					return nil
				}
			}
		}
		if !errors.Is(err, io.EOF) {
			if s, _ := status.FromError(err); s.Code() != codes.Unavailable {
				return err
			}
			fmt.Fprintf(e.stderr, "audit stream lost (%s); resuming after record %d\n", status.Convert(err).Message(), last)
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, 10*time.Second)
	}
}

func auditLine(r *lanyardv1.AuditRecord) string {
	reason := ""
	if r.GetReason() != "" {
		reason = " (" + r.GetReason() + ")"
	}
	return fmt.Sprintf("%d %s %s %s %s %s%s", r.GetId(), precise(r.GetTime()), r.GetOutcome(), r.GetActor(),
		r.GetAction(), r.GetTarget(), reason)
}
