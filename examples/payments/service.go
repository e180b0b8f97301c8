package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	paymentsv1 "github.com/lanyard-dev/lanyard/clients/go/examplespb/payments/v1"
)

// payments is an in-memory PaymentsService. The interceptors have checked the caller's token and
// scopes before any method runs.
type payments struct {
	paymentsv1.UnimplementedPaymentsServiceServer

	mu          sync.Mutex
	next        int
	byID        map[string]*paymentsv1.Payment
	idempotency map[string]string                                // idempotency key → payment id
	watchers    map[string]map[chan *paymentsv1.Payment]struct{} // account → subscribers
}

func newPayments() *payments {
	return &payments{byID: map[string]*paymentsv1.Payment{}, idempotency: map[string]string{},
		watchers: map[string]map[chan *paymentsv1.Payment]struct{}{}}
}

func (p *payments) Charge(_ context.Context, r *paymentsv1.ChargeRequest) (*paymentsv1.Payment, error) {
	if r.GetAccountId() == "" {
		return nil, status.Error(codes.InvalidArgument, "account_id is required")
	}
	if r.GetAmountMinor() <= 0 {
		return nil, status.Errorf(codes.InvalidArgument, "amount_minor must be positive, not %d", r.GetAmountMinor())
	}
	if len(r.GetCurrency()) != 3 {
		return nil, status.Errorf(codes.InvalidArgument, "currency must be an ISO 4217 code such as EUR, not %q", r.GetCurrency())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if id, ok := p.idempotency[r.GetIdempotencyKey()]; ok && r.GetIdempotencyKey() != "" {
		return clone(p.byID[id]), nil
	}
	p.next++
	pay := &paymentsv1.Payment{PaymentId: fmt.Sprintf("pay-%06d", p.next), AccountId: r.GetAccountId(),
		AmountMinor: r.GetAmountMinor(), Currency: r.GetCurrency()}
	p.byID[pay.PaymentId] = pay
	if r.GetIdempotencyKey() != "" {
		p.idempotency[r.GetIdempotencyKey()] = pay.PaymentId
	}
	p.publishLocked(pay)
	return clone(pay), nil
}

func (p *payments) Refund(_ context.Context, r *paymentsv1.RefundRequest) (*paymentsv1.Payment, error) {
	if r.GetAmountMinor() < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "amount_minor must not be negative, not %d", r.GetAmountMinor())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pay, ok := p.byID[r.GetPaymentId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no payment %q", r.GetPaymentId())
	}
	left := pay.AmountMinor - pay.RefundedMinor
	amount := r.GetAmountMinor()
	if amount == 0 {
		amount = left
	}
	if amount > left {
		return nil, status.Errorf(codes.FailedPrecondition, "refund of %d exceeds the %d left of payment %s", amount, left, pay.PaymentId)
	}
	pay.RefundedMinor += amount
	p.publishLocked(pay)
	return clone(pay), nil
}

func (p *payments) GetPayment(_ context.Context, r *paymentsv1.GetPaymentRequest) (*paymentsv1.Payment, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pay, ok := p.byID[r.GetPaymentId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no payment %q", r.GetPaymentId())
	}
	return clone(pay), nil
}

// WatchPayments sends the account's payments so far, then every change until the caller leaves.
func (p *payments) WatchPayments(r *paymentsv1.WatchPaymentsRequest, stream grpc.ServerStreamingServer[paymentsv1.Payment]) error {
	if r.GetAccountId() == "" {
		return status.Error(codes.InvalidArgument, "account_id is required")
	}
	ch := make(chan *paymentsv1.Payment, 64)
	p.mu.Lock()
	var existing []*paymentsv1.Payment
	for _, pay := range p.byID {
		if pay.AccountId == r.GetAccountId() {
			existing = append(existing, clone(pay))
		}
	}
	if p.watchers[r.GetAccountId()] == nil {
		p.watchers[r.GetAccountId()] = map[chan *paymentsv1.Payment]struct{}{}
	}
	p.watchers[r.GetAccountId()][ch] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.watchers[r.GetAccountId()], ch)
		p.mu.Unlock()
	}()
	// Headers now, so a caller knows the watch is accepted before the first payment arrives.
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	for _, pay := range sortByID(existing) {
		if err := stream.Send(pay); err != nil {
			return err
		}
	}
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case pay := <-ch:
			if err := stream.Send(pay); err != nil {
				return err
			}
		}
	}
}

// publishLocked tells watchers; a watcher too slow to keep up misses updates rather than
// stalling every charge.
func (p *payments) publishLocked(pay *paymentsv1.Payment) {
	for ch := range p.watchers[pay.AccountId] {
		select {
		case ch <- clone(pay):
		default:
		}
	}
}

func clone(p *paymentsv1.Payment) *paymentsv1.Payment {
	return &paymentsv1.Payment{PaymentId: p.PaymentId, AccountId: p.AccountId, AmountMinor: p.AmountMinor,
		RefundedMinor: p.RefundedMinor, Currency: p.Currency}
}

func sortByID(ps []*paymentsv1.Payment) []*paymentsv1.Payment {
	slices.SortFunc(ps, func(a, b *paymentsv1.Payment) int { return strings.Compare(a.PaymentId, b.PaymentId) })
	return ps
}
