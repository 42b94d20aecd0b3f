package inmem

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/humaninsight/facet"
)

// Service Bus defaults, taken when NewQueue gets zero values.
const (
	defaultMaxDelivery = 10
	defaultLock        = time.Minute
)

// Queue is an in-memory Service Bus namespace: a facet.Queue and a
// facet.Receiver over the same queues, with Service Bus's peek-lock,
// delivery counts, dead-lettering, lock expiry and scheduled messages, so
// that `facet dev` and unit tests take the same redelivery paths the cloud
// takes. Queues are created on first use. Safe for concurrent use.
//
// Time-driven changes (a scheduled message falling due, a lock expiring)
// happen when the queue is next looked at, so a Queue needs no goroutine
// and no Close.
type Queue struct {
	maxDelivery int
	lock        time.Duration

	mu     sync.Mutex
	seq    int64 // last sequence number handed out, across queues
	queues map[string]*memQueue
}

// memQueue is one queue and its dead-letter queue.
type memQueue struct {
	ready     []*memMessage // deliverable, in sequence order
	locked    map[int64]*memMessage
	scheduled map[int64]*memMessage
	dead      []*memMessage
	// changed is closed, and replaced, when a message becomes ready, to
	// wake every waiting Receive.
	changed chan struct{}
}

type memMessage struct {
	msg         facet.Message
	seq         int64
	enqueued    time.Time
	due         time.Time // while scheduled
	deliveries  int
	lockedUntil time.Time // while locked
}

// NewQueue returns an empty Queue. maxDelivery is every queue's
// MaxDeliveryCount: the delivery that many is the last, and abandoning it
// (or letting its lock expire) dead-letters the message. lock is how long a
// received message stays invisible before it is delivered again. Zero or
// negative values take Service Bus's defaults: 10 deliveries, one minute.
func NewQueue(maxDelivery int, lock time.Duration) *Queue {
	if maxDelivery <= 0 {
		maxDelivery = defaultMaxDelivery
	}
	if lock <= 0 {
		lock = defaultLock
	}
	return &Queue{maxDelivery: maxDelivery, lock: lock, queues: map[string]*memQueue{}}
}

// Send enqueues a copy of msg; an empty ID gets a random one, as the
// Service Bus adapter does.
func (b *Queue) Send(ctx context.Context, queue string, msg facet.Message) error {
	if err := ctx.Err(); err != nil {
		return memQueueError("send", queue, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queue(queue)
	b.enqueue(q, newMemMessage(msg), time.Now())
	return nil
}

// Schedule keeps a copy of msg out of sight until at. The sequence number
// it returns names the scheduled message only: as in Service Bus, the
// message gets a new one when it falls due, so Cancel cannot reach it then.
func (b *Queue) Schedule(ctx context.Context, queue string, msg facet.Message, at time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, memQueueError("schedule", queue, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queue(queue)
	m := newMemMessage(msg)
	if now := time.Now(); !at.After(now) {
		b.enqueue(q, m, now)
		return m.seq, nil
	}
	b.seq++
	m.seq, m.due = b.seq, at
	q.scheduled[m.seq] = m
	return m.seq, nil
}

// Cancel drops a scheduled message; one already due, cancelled or never
// scheduled is not an error.
func (b *Queue) Cancel(ctx context.Context, queue string, seq int64) error {
	if err := ctx.Err(); err != nil {
		return memQueueError("cancel", queue, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queue(queue)
	b.advance(q, time.Now())
	delete(q.scheduled, seq)
	return nil
}

// Receive locks and returns up to max ready messages, waiting up to wait
// for the first; none is an empty slice and no error.
func (b *Queue) Receive(ctx context.Context, queue string, max int, wait time.Duration) ([]facet.Delivery, error) {
	if max < 1 {
		return nil, facet.Errorf(facet.EInvalid, "inmem: receive %s: max is %d, below 1", queue, max)
	}
	deadline := time.Now().Add(wait)
	for {
		if err := ctx.Err(); err != nil {
			return nil, memQueueError("receive", queue, err)
		}
		b.mu.Lock()
		now := time.Now()
		q := b.queue(queue)
		b.advance(q, now)
		if len(q.ready) > 0 {
			n := min(max, len(q.ready))
			out := make([]facet.Delivery, n)
			for i, m := range q.ready[:n] {
				m.deliveries++
				m.lockedUntil = now.Add(b.lock)
				q.locked[m.seq] = m
				out[i] = m.delivery()
			}
			q.ready = slices.Delete(q.ready, 0, n)
			b.mu.Unlock()
			return out, nil
		}
		next, changed := q.nextEvent(), q.changed
		b.mu.Unlock()

		if !now.Before(deadline) {
			return []facet.Delivery{}, nil
		}
		// Sleep until the wait ends, a message arrives, or a scheduled
		// message or an expiring lock may have made one ready.
		until := deadline
		if !next.IsZero() && next.Before(until) {
			until = next
		}
		timer := time.NewTimer(until.Sub(now))
		select {
		case <-ctx.Done():
		case <-changed:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// Complete removes a received message whose lock d still holds.
func (b *Queue) Complete(ctx context.Context, queue string, d facet.Delivery) error {
	if err := ctx.Err(); err != nil {
		return memQueueError("complete", queue, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queue(queue)
	if _, err := b.held(q, "complete", queue, d); err != nil {
		return err
	}
	delete(q.locked, d.SequenceNumber)
	return nil
}

// Abandon makes a received message deliverable again, or dead-letters it
// when d was its last allowed delivery.
func (b *Queue) Abandon(ctx context.Context, queue string, d facet.Delivery) error {
	if err := ctx.Err(); err != nil {
		return memQueueError("abandon", queue, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queue(queue)
	m, err := b.held(q, "abandon", queue, d)
	if err != nil {
		return err
	}
	delete(q.locked, m.seq)
	b.release(q, m)
	return nil
}

// DeadLetters returns copies of up to max dead-lettered messages, oldest
// first, leaving them in place.
func (b *Queue) DeadLetters(ctx context.Context, queue string, max int) ([]facet.Delivery, error) {
	if max < 1 {
		return nil, facet.Errorf(facet.EInvalid, "inmem: dead letters %s: max is %d, below 1", queue, max)
	}
	if err := ctx.Err(); err != nil {
		return nil, memQueueError("dead letters", queue, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queue(queue)
	b.advance(q, time.Now())
	out := []facet.Delivery{}
	for _, m := range q.dead[:min(max, len(q.dead))] {
		out = append(out, m.delivery())
	}
	return out, nil
}

// queue returns the named queue, creating it. b.mu must be held.
func (b *Queue) queue(name string) *memQueue {
	q := b.queues[name]
	if q == nil {
		q = &memQueue{
			locked:    map[int64]*memMessage{},
			scheduled: map[int64]*memMessage{},
			changed:   make(chan struct{}),
		}
		b.queues[name] = q
	}
	return q
}

// enqueue makes m ready under a new sequence number, as Service Bus does
// for sent messages and for scheduled ones falling due. b.mu must be held.
func (b *Queue) enqueue(q *memQueue, m *memMessage, now time.Time) {
	b.seq++
	m.seq, m.enqueued, m.due = b.seq, now, time.Time{}
	q.ready = append(q.ready, m)
	q.wake()
}

// advance applies what time has done since the queue was last looked at:
// due scheduled messages become ready, expired locks give their messages
// back. b.mu must be held.
func (b *Queue) advance(q *memQueue, now time.Time) {
	var due []*memMessage
	for seq, m := range q.scheduled {
		if !m.due.After(now) {
			due = append(due, m)
			delete(q.scheduled, seq)
		}
	}
	// In the order they fell due, so sequence numbers follow time.
	slices.SortFunc(due, func(x, y *memMessage) int {
		if c := x.due.Compare(y.due); c != 0 {
			return c
		}
		return cmp.Compare(x.seq, y.seq)
	})
	for _, m := range due {
		b.enqueue(q, m, m.due)
	}
	for seq, m := range q.locked {
		if !m.lockedUntil.After(now) {
			delete(q.locked, seq)
			b.release(q, m)
		}
	}
}

// release returns an unlocked message to the queue at its place in
// sequence order, or moves it to the dead-letter queue once it has had
// every delivery it may have. b.mu must be held.
func (b *Queue) release(q *memQueue, m *memMessage) {
	m.lockedUntil = time.Time{}
	if m.deliveries >= b.maxDelivery {
		// Service Bus stamps these two application properties on the
		// messages it dead-letters.
		m.msg.Properties = maps.Clone(m.msg.Properties)
		if m.msg.Properties == nil {
			m.msg.Properties = map[string]string{}
		}
		m.msg.Properties["DeadLetterReason"] = "MaxDeliveryCountExceeded"
		m.msg.Properties["DeadLetterErrorDescription"] = "Message could not be consumed after " + strconv.Itoa(b.maxDelivery) + " delivery attempts."
		q.dead = append(q.dead, m)
		return
	}
	i, _ := slices.BinarySearchFunc(q.ready, m.seq, func(x *memMessage, seq int64) int { return cmp.Compare(x.seq, seq) })
	q.ready = slices.Insert(q.ready, i, m)
	q.wake()
}

// held returns the locked message d was delivered as, or EConflict when
// that lock is gone: completed, abandoned, expired, or superseded by a
// later delivery of the same message. b.mu must be held.
func (b *Queue) held(q *memQueue, op, queue string, d facet.Delivery) (*memMessage, error) {
	b.advance(q, time.Now())
	m := q.locked[d.SequenceNumber]
	if m == nil || m.deliveries != d.DeliveryCount {
		return nil, facet.Errorf(facet.EConflict, "inmem: %s %s: message %d is not locked by this delivery (settled, or its lock expired)", op, queue, d.SequenceNumber)
	}
	return m, nil
}

// nextEvent returns the earliest time a scheduled message falls due or a
// lock expires; zero if neither is pending.
func (q *memQueue) nextEvent() time.Time {
	var next time.Time
	for _, m := range q.scheduled {
		if next.IsZero() || m.due.Before(next) {
			next = m.due
		}
	}
	for _, m := range q.locked {
		if next.IsZero() || m.lockedUntil.Before(next) {
			next = m.lockedUntil
		}
	}
	return next
}

// wake tells waiting receivers to look again.
func (q *memQueue) wake() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// newMemMessage copies msg, so that the caller's later changes to its body
// or properties do not reach the queue.
func newMemMessage(msg facet.Message) *memMessage {
	if msg.ID == "" {
		msg.ID = rand.Text()
	}
	msg.Body = bytes.Clone(msg.Body)
	msg.Properties = maps.Clone(msg.Properties)
	return &memMessage{msg: msg}
}

// delivery returns a copy the receiver may change freely.
func (m *memMessage) delivery() facet.Delivery {
	msg := m.msg
	msg.Body = bytes.Clone(msg.Body)
	msg.Properties = maps.Clone(msg.Properties)
	return facet.Delivery{Message: msg, DeliveryCount: m.deliveries, SequenceNumber: m.seq, EnqueuedTime: m.enqueued}
}

// memQueueError reports a context error the way the Service Bus adapter
// does: the operation did not finish, so retrying may succeed.
func memQueueError(op, queue string, err error) error {
	return facet.Errorf(facet.EUnavailable, "inmem: %s %s: %w", op, queue, err)
}
