package porttest

import (
	"context"
	"crypto/rand"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/humaninsight/facet"
)

// Queue checks that q and r, which must reach the same queues, keep the
// facet.Queue and facet.Receiver contracts the way Service Bus does:
// peek-lock, delivery counts, dead-lettering after maxDelivery deliveries
// (the queues' MaxDeliveryCount), scheduled messages and their
// cancellation, and Receive's waiting.
//
// Every subtest uses its own queue with a fresh random name, and the
// subtests run in parallel, so the suite takes about as long as its slowest
// subtest (a few seconds). inmem and the Service Bus stand-in create queues
// on first use; Service Bus in Azure and the official emulator do not, so
// there the queues must exist before the suite runs.
//
// Queue returns once every subtest has ended: the caller may close q and r
// right after it.
func Queue(t *testing.T, q facet.Queue, r facet.Receiver, maxDelivery int) {
	s := &queueSuite{q: q, r: r, maxDelivery: maxDelivery}
	// A group, so that its parallel subtests end before Queue returns.
	t.Run("Queue", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			fn   func(*testing.T)
		}{
			{"SendReceiveComplete", s.sendReceiveComplete},
			{"ReceiveAtMostMax", s.receiveAtMostMax},
			{"Abandon", s.abandon},
			{"DeadLetter", s.deadLetter},
			{"Schedule", s.schedule},
			{"ScheduleCancel", s.scheduleCancel},
			{"CancelUnknown", s.cancelUnknown},
			{"ReceiveEmpty", s.receiveEmpty},
			{"ReceiveContext", s.receiveContext},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.fn(t)
			})
		}
	})
}

type queueSuite struct {
	q           facet.Queue
	r           facet.Receiver
	maxDelivery int
}

// queueTimeout bounds each subtest, so a hung Receive fails the subtest
// instead of the whole test binary.
const queueTimeout = 20 * time.Second

// queueClockSkew is how far a remote broker's clock may disagree with ours
// when the suite checks a scheduled time.
const queueClockSkew = 500 * time.Millisecond

func (s *queueSuite) sendReceiveComplete(t *testing.T) {
	ctx, queue := s.setup(t)
	first := facet.Message{
		ID:         "porttest-" + rand.Text(),
		Body:       []byte(`{"kind":"first","n":1}`),
		Properties: map[string]string{"projectId": "p-1", "reason": "privacy-by-design"},
	}
	second := facet.Message{Body: []byte(`{"kind":"second","n":2}`)}
	for _, m := range []facet.Message{first, second} {
		if err := s.q.Send(ctx, queue, m); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	sent := time.Now()

	got := s.receiveN(t, ctx, queue, 2, 10)
	sort.Slice(got, func(i, j int) bool { return got[i].SequenceNumber < got[j].SequenceNumber })
	if diff := cmp.Diff(first, got[0].Message, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("first message (-sent +received):\n%s", diff)
	}
	if got[1].ID == "" {
		t.Error(`a message sent with ID "" was received without one; the queue should have chosen it`)
	}
	if string(got[1].Body) != string(second.Body) {
		t.Errorf("second body = %s, want %s", got[1].Body, second.Body)
	}
	for i, d := range got {
		if d.DeliveryCount != 1 {
			t.Errorf("message %d: DeliveryCount = %d, want 1", i, d.DeliveryCount)
		}
		if d.SequenceNumber <= 0 {
			t.Errorf("message %d: SequenceNumber = %d, want > 0", i, d.SequenceNumber)
		}
		if d.EnqueuedTime.IsZero() || d.EnqueuedTime.Sub(sent).Abs() > time.Minute {
			t.Errorf("message %d: EnqueuedTime = %v, want about %v", i, d.EnqueuedTime, sent)
		}
	}
	if got[0].SequenceNumber == got[1].SequenceNumber {
		t.Errorf("both messages have SequenceNumber %d", got[0].SequenceNumber)
	}

	for _, d := range got {
		if err := s.r.Complete(ctx, queue, d); err != nil {
			t.Fatalf("Complete: %v", err)
		}
	}
	if err := s.r.Complete(ctx, queue, got[0]); facet.ErrorCode(err) != facet.EConflict {
		t.Errorf("Complete of a completed message = %v (code %q), want code %q", err, facet.ErrorCode(err), facet.EConflict)
	}
	s.wantNone(t, ctx, queue, time.Second)
}

func (s *queueSuite) receiveAtMostMax(t *testing.T) {
	ctx, queue := s.setup(t)
	for i := range 3 {
		if err := s.q.Send(ctx, queue, facet.Message{Body: []byte{'0' + byte(i)}}); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	got, err := s.r.Receive(ctx, queue, 2, 5*time.Second)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if len(got) == 0 || len(got) > 2 {
		t.Fatalf("Receive(max 2) with 3 queued returned %d messages", len(got))
	}
	got = append(got, s.receiveN(t, ctx, queue, 3-len(got), 3)...)
	for _, d := range got {
		if err := s.r.Complete(ctx, queue, d); err != nil {
			t.Fatalf("Complete: %v", err)
		}
	}
	s.wantNone(t, ctx, queue, 500*time.Millisecond)
}

func (s *queueSuite) abandon(t *testing.T) {
	ctx, queue := s.setup(t)
	msg := facet.Message{ID: "porttest-" + rand.Text(), Body: []byte(`{"kind":"abandon"}`), Properties: map[string]string{"k": "v"}}
	if err := s.q.Send(ctx, queue, msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	// max 10 leaves room for more: a receiver that keeps asking for the
	// rest must not pick up (and count) the abandoned message behind
	// Receive's back.
	first := s.receiveN(t, ctx, queue, 1, 10)[0]
	if err := s.r.Abandon(ctx, queue, first); err != nil {
		t.Fatalf("Abandon: %v", err)
	}
	again := s.receiveN(t, ctx, queue, 1, 10)[0]
	if diff := cmp.Diff(msg, again.Message, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("redelivered message (-sent +received):\n%s", diff)
	}
	if again.DeliveryCount != first.DeliveryCount+1 {
		t.Errorf("DeliveryCount after Abandon = %d, want %d", again.DeliveryCount, first.DeliveryCount+1)
	}
	if again.SequenceNumber != first.SequenceNumber {
		t.Errorf("SequenceNumber after Abandon = %d, want %d", again.SequenceNumber, first.SequenceNumber)
	}
	// The first delivery's lock is gone: settling it must not settle the
	// redelivery.
	if err := s.r.Complete(ctx, queue, first); facet.ErrorCode(err) != facet.EConflict {
		t.Errorf("Complete of a stale delivery = %v (code %q), want code %q", err, facet.ErrorCode(err), facet.EConflict)
	}
	if err := s.r.Complete(ctx, queue, again); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	s.wantNone(t, ctx, queue, 500*time.Millisecond)
}

func (s *queueSuite) deadLetter(t *testing.T) {
	ctx, queue := s.setup(t)
	msg := facet.Message{ID: "porttest-" + rand.Text(), Body: []byte(`{"kind":"poison"}`), Properties: map[string]string{"k": "v"}}
	if err := s.q.Send(ctx, queue, msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	for i := 1; i <= s.maxDelivery; i++ {
		d := s.receiveN(t, ctx, queue, 1, 1)[0]
		if d.ID != msg.ID || d.DeliveryCount != i {
			t.Fatalf("delivery %d: got ID %q DeliveryCount %d, want %q %d", i, d.ID, d.DeliveryCount, msg.ID, i)
		}
		if err := s.r.Abandon(ctx, queue, d); err != nil {
			t.Fatalf("Abandon %d: %v", i, err)
		}
	}
	s.wantNone(t, ctx, queue, time.Second)

	// Moving to the dead-letter queue may lag the last abandon.
	var dead []facet.Delivery
	for deadline := time.Now().Add(5 * time.Second); ; {
		var err error
		dead, err = s.r.DeadLetters(ctx, queue, 10)
		if err != nil {
			t.Fatalf("DeadLetters: %v", err)
		}
		if len(dead) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(dead) != 1 {
		t.Fatalf("DeadLetters returned %d messages, want 1", len(dead))
	}
	d := dead[0]
	if d.ID != msg.ID || string(d.Body) != string(msg.Body) || d.Properties["k"] != "v" {
		t.Errorf("dead letter = %q %s %v, want %q %s with k=v", d.ID, d.Body, d.Properties, msg.ID, msg.Body)
	}
	if got := d.Properties["DeadLetterReason"]; got != "MaxDeliveryCountExceeded" {
		t.Errorf("DeadLetterReason = %q, want MaxDeliveryCountExceeded", got)
	}
	// Peeking leaves it there.
	again, err := s.r.DeadLetters(ctx, queue, 10)
	if err != nil || len(again) != 1 {
		t.Errorf("second DeadLetters = %d messages, %v; want 1, nil", len(again), err)
	}
}

func (s *queueSuite) schedule(t *testing.T) {
	ctx, queue := s.setup(t)
	msg := facet.Message{ID: "porttest-" + rand.Text(), Body: []byte(`{"kind":"scheduled"}`)}
	at := time.Now().Add(2 * time.Second)
	seq, err := s.q.Schedule(ctx, queue, msg, at)
	if err != nil {
		t.Fatalf("Schedule: %v", err)
	}
	if seq <= 0 {
		t.Errorf("Schedule returned sequence number %d, want > 0", seq)
	}
	// Nothing before its time: watch until shortly before it is due. The
	// window is what is left of the 2 s once Schedule has returned (a
	// loaded machine may have spent much of it), not a fixed second
	// that could run past the message's time.
	if quiet := time.Until(at) - 500*time.Millisecond; quiet > 0 {
		s.wantNone(t, ctx, queue, min(quiet, time.Second))
	}
	d := s.receiveN(t, ctx, queue, 1, 1)[0]
	if now := time.Now(); now.Before(at.Add(-queueClockSkew)) {
		t.Errorf("received %v before its scheduled time", at.Sub(now))
	}
	if d.ID != msg.ID || string(d.Body) != string(msg.Body) {
		t.Errorf("received %q %s, want %q %s", d.ID, d.Body, msg.ID, msg.Body)
	}
	if err := s.r.Complete(ctx, queue, d); err != nil {
		t.Fatalf("Complete: %v", err)
	}
}

func (s *queueSuite) scheduleCancel(t *testing.T) {
	ctx, queue := s.setup(t)
	at := time.Now().Add(time.Second)
	seq, err := s.q.Schedule(ctx, queue, facet.Message{Body: []byte(`{"kind":"cancelled"}`)}, at)
	if err != nil {
		t.Fatalf("Schedule: %v", err)
	}
	if err := s.q.Cancel(ctx, queue, seq); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	s.wantNone(t, ctx, queue, time.Until(at)+1500*time.Millisecond)
	if err := s.q.Cancel(ctx, queue, seq); err != nil {
		t.Errorf("second Cancel = %v, want nil", err)
	}
}

func (s *queueSuite) cancelUnknown(t *testing.T) {
	ctx, queue := s.setup(t)
	if err := s.q.Cancel(ctx, queue, 1<<40); err != nil {
		t.Errorf("Cancel of an unknown sequence number = %v, want nil", err)
	}
	// Scheduled for now: delivered at once, then too late to cancel.
	seq, err := s.q.Schedule(ctx, queue, facet.Message{Body: []byte(`{"kind":"due"}`)}, time.Now())
	if err != nil {
		t.Fatalf("Schedule: %v", err)
	}
	d := s.receiveN(t, ctx, queue, 1, 1)[0]
	if err := s.r.Complete(ctx, queue, d); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if err := s.q.Cancel(ctx, queue, seq); err != nil {
		t.Errorf("Cancel of a delivered message = %v, want nil", err)
	}
}

func (s *queueSuite) receiveEmpty(t *testing.T) {
	ctx, queue := s.setup(t)
	const wait = time.Second
	start := time.Now()
	got, err := s.r.Receive(ctx, queue, 5, wait)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Receive from an empty queue: %v, want no error", err)
	}
	if len(got) != 0 {
		t.Fatalf("Receive from an empty queue returned %d messages", len(got))
	}
	// It must wait (not spin) and must come back (not block until a
	// message): the upper bound is loose because opening a link on a
	// loaded two-core CI machine can take seconds.
	if took < wait-100*time.Millisecond || took > wait+30*time.Second {
		t.Errorf("Receive(wait %v) from an empty queue took %v", wait, took)
	}
}

func (s *queueSuite) receiveContext(t *testing.T) {
	ctx, queue := s.setup(t)
	ctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := s.r.Receive(ctx, queue, 1, 10*time.Second)
	if took := time.Since(start); took > 8*time.Second { // the wait was 10 s
		t.Errorf("Receive took %v after its context was cancelled at 300ms", took)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Receive with a cancelled context = %v, want context.Canceled", err)
	}
}

// setup returns a context bounded by queueTimeout and a fresh queue name.
func (s *queueSuite) setup(t *testing.T) (context.Context, string) {
	ctx, cancel := context.WithTimeout(t.Context(), queueTimeout)
	t.Cleanup(cancel)
	// Service Bus queue names are case-insensitive; lower case keeps logs
	// and the stand-in's names alike.
	return ctx, "porttest-" + strings.ToLower(rand.Text()[:12])
}

// receiveN receives until it holds n messages, asking for up to max at a
// time, and fails the test if they do not come within 10 seconds.
func (s *queueSuite) receiveN(t *testing.T, ctx context.Context, queue string, n, max int) []facet.Delivery {
	t.Helper()
	var got []facet.Delivery
	for deadline := time.Now().Add(10 * time.Second); len(got) < n; {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("received %d of %d messages within 10s", len(got), n)
		}
		ds, err := s.r.Receive(ctx, queue, max, left)
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		got = append(got, ds...)
	}
	if len(got) > n {
		t.Fatalf("received %d messages, want %d", len(got), n)
	}
	return got
}

// wantNone fails the test if a message arrives within wait.
func (s *queueSuite) wantNone(t *testing.T, ctx context.Context, queue string, wait time.Duration) {
	t.Helper()
	got, err := s.r.Receive(ctx, queue, 10, wait)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	for _, d := range got {
		t.Errorf("unexpected delivery: ID %q body %s DeliveryCount %d", d.ID, d.Body, d.DeliveryCount)
	}
}
