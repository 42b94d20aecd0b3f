package inmem_test

import (
	"testing"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/inmem"
	"github.com/humaninsight/facet/internal/porttest"
)

var (
	_ facet.Queue    = (*inmem.Queue)(nil)
	_ facet.Receiver = (*inmem.Queue)(nil)
)

func TestQueuePort(t *testing.T) {
	q := inmem.NewQueue(3, 5*time.Second)
	porttest.Queue(t, q, q, 3)
}

func TestQueueLockExpiry(t *testing.T) {
	ctx := t.Context()
	const lock = 100 * time.Millisecond
	q := inmem.NewQueue(2, lock)
	if err := q.Send(ctx, "q", facet.Message{ID: "m", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	first := queueReceiveOne(t, q, "q", time.Second)

	// Nobody settles it: once the lock expires the message comes back,
	// counted, without anyone calling Receive in between.
	start := time.Now()
	second := queueReceiveOne(t, q, "q", time.Second)
	if took := time.Since(start); took < lock/2 {
		t.Errorf("redelivered after %v, before the %v lock expired", took, lock)
	}
	if second.ID != "m" || second.DeliveryCount != 2 || second.SequenceNumber != first.SequenceNumber {
		t.Errorf("redelivery = %q count %d seq %d, want %q count 2 seq %d", second.ID, second.DeliveryCount, second.SequenceNumber, "m", first.SequenceNumber)
	}
	if err := q.Complete(ctx, "q", first); facet.ErrorCode(err) != facet.EConflict {
		t.Errorf("Complete with an expired lock = %v, want code %q", err, facet.EConflict)
	}

	// The second expiry is past the maximum of 2: dead-lettered.
	time.Sleep(2 * lock)
	if got, err := q.Receive(ctx, "q", 1, 0); err != nil || len(got) != 0 {
		t.Errorf("Receive after the last lock expired = %d messages, %v; want none", len(got), err)
	}
	dead, err := q.DeadLetters(ctx, "q", 10)
	if err != nil || len(dead) != 1 || dead[0].ID != "m" {
		t.Fatalf("DeadLetters = %+v, %v; want message m", dead, err)
	}
	if err := q.Complete(ctx, "q", second); facet.ErrorCode(err) != facet.EConflict {
		t.Errorf("Complete of a dead-lettered message = %v, want code %q", err, facet.EConflict)
	}
}

func TestQueueScheduledGetsNewSequenceNumber(t *testing.T) {
	ctx := t.Context()
	q := inmem.NewQueue(0, 0)
	seq, err := q.Schedule(ctx, "q", facet.Message{ID: "s"}, time.Now().Add(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	d := queueReceiveOne(t, q, "q", time.Second)
	if d.SequenceNumber == seq {
		t.Errorf("delivered with the scheduled sequence number %d; Service Bus assigns a new one", seq)
	}
	if err := q.Cancel(ctx, "q", seq); err != nil {
		t.Errorf("Cancel after delivery = %v", err)
	}
}

func TestQueueCopies(t *testing.T) {
	ctx := t.Context()
	q := inmem.NewQueue(0, 0)
	msg := facet.Message{ID: "c", Body: []byte(`{"a":1}`), Properties: map[string]string{"k": "v"}}
	if err := q.Send(ctx, "q", msg); err != nil {
		t.Fatal(err)
	}
	msg.Body[0] = 'X'
	msg.Properties["k"] = "changed"
	d := queueReceiveOne(t, q, "q", time.Second)
	if string(d.Body) != `{"a":1}` || d.Properties["k"] != "v" {
		t.Errorf("received %s %v: the sender's later changes reached the queue", d.Body, d.Properties)
	}
}

func TestQueueInvalidMax(t *testing.T) {
	q := inmem.NewQueue(0, 0)
	if _, err := q.Receive(t.Context(), "q", 0, 0); facet.ErrorCode(err) != facet.EInvalid {
		t.Errorf("Receive(max 0) = %v, want code %q", err, facet.EInvalid)
	}
	if _, err := q.DeadLetters(t.Context(), "q", 0); facet.ErrorCode(err) != facet.EInvalid {
		t.Errorf("DeadLetters(max 0) = %v, want code %q", err, facet.EInvalid)
	}
}

func queueReceiveOne(t *testing.T, q *inmem.Queue, queue string, wait time.Duration) facet.Delivery {
	t.Helper()
	got, err := q.Receive(t.Context(), queue, 1, wait)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("Receive returned %d messages, want 1", len(got))
	}
	return got[0]
}
