// Package servicebus implements facet.Queue and facet.Receiver over Azure
// Service Bus with azservicebus. The app only sends and schedules; the
// Functions host receives. Receiving here serves the local host stand-in
// (devhost) and tests.
package servicebus

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"
	"github.com/humaninsight/facet"
)

// Defaults for Options.
const (
	defaultMaxUnsettled = 1000
	// closeTimeout bounds closing a link the caller no longer waits for.
	closeTimeout = 5 * time.Second
	// drainWait is how long Receive waits for messages already on their
	// way before it closes a link with credit left.
	drainWait = 100 * time.Millisecond
	// maxReceive is the most messages one ReceiveMessages call may ask for
	// (the SDK's link credit limit).
	maxReceive = 5000
)

// contentType marks bodies as JSON, which facet.Message promises they are,
// so that the trigger's metadata and Service Bus Explorer say so.
const contentType = "application/json"

// sender is the part of *azservicebus.Sender the Client uses.
type sender interface {
	SendMessage(ctx context.Context, msg *azservicebus.Message, opts *azservicebus.SendMessageOptions) error
	ScheduleMessages(ctx context.Context, msgs []*azservicebus.Message, at time.Time, opts *azservicebus.ScheduleMessagesOptions) ([]int64, error)
	CancelScheduledMessages(ctx context.Context, seqs []int64, opts *azservicebus.CancelScheduledMessagesOptions) error
	Close(ctx context.Context) error
}

// receiver is the part of *azservicebus.Receiver the Client uses.
type receiver interface {
	ReceiveMessages(ctx context.Context, max int, opts *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
	PeekMessages(ctx context.Context, max int, opts *azservicebus.PeekMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
	CompleteMessage(ctx context.Context, msg *azservicebus.ReceivedMessage, opts *azservicebus.CompleteMessageOptions) error
	AbandonMessage(ctx context.Context, msg *azservicebus.ReceivedMessage, opts *azservicebus.AbandonMessageOptions) error
	Close(ctx context.Context) error
}

var (
	_ sender   = (*azservicebus.Sender)(nil)
	_ receiver = (*azservicebus.Receiver)(nil)
)

// Options tunes a Client; nil or zero fields take the defaults.
type Options struct {
	// MaxUnsettled bounds how many received, unsettled messages the Client
	// remembers so that Complete and Abandon can find them (default 1000).
	// Past it the oldest is forgotten: settling it fails with EConflict and
	// Service Bus delivers it again once its lock expires.
	MaxUnsettled int

	// ClientOptions configures the SDK client NewFromConnectionString
	// makes, such as its retries. New ignores it.
	ClientOptions *azservicebus.ClientOptions
}

// Client is a facet.Queue and a facet.Receiver over one Service Bus
// namespace. It opens a sender, a receiver and a dead-letter receiver per
// queue on first use and keeps them until Close; only a receive that comes
// back short closes the queue's receiver (see Receive). Safe for concurrent
// use; as facet.Receiver says, receiving and settling on one queue is not.
type Client struct {
	newSender    func(queue string) (sender, error)
	newReceiver  func(queue string, sub azservicebus.SubQueue) (receiver, error)
	closeClient  func(ctx context.Context) error // set when the Client made the SDK client
	maxUnsettled int

	mu          sync.Mutex
	closed      bool
	senders     map[string]sender
	receivers   map[string]receiver
	deadLetters map[string]receiver
	// unsettled keeps each received message until it is settled: only the
	// SDK's message can settle it, and facet.Delivery cannot carry it.
	unsettled map[lockKey]*azservicebus.ReceivedMessage
	order     []lockKey // unsettled keys, oldest first; may name settled ones
}

type lockKey struct {
	queue string
	seq   int64
}

// New returns a Client over client, which stays the caller's to close.
func New(client *azservicebus.Client, opts *Options) *Client {
	c := newClient(opts)
	c.newSender = func(queue string) (sender, error) { return client.NewSender(queue, nil) }
	c.newReceiver = func(queue string, sub azservicebus.SubQueue) (receiver, error) {
		return client.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{
			ReceiveMode: azservicebus.ReceiveModePeekLock,
			SubQueue:    sub,
		})
	}
	return c
}

// NewFromConnectionString returns a Client over a new SDK client for cs,
// for local use (the stand-in, the emulator): in Azure the app uses a
// managed identity and New. Close closes the SDK client too.
func NewFromConnectionString(cs string, opts *Options) (*Client, error) {
	var co *azservicebus.ClientOptions
	if opts != nil {
		co = opts.ClientOptions
	}
	client, err := azservicebus.NewClientFromConnectionString(cs, co)
	if err != nil {
		// The message may quote the connection string: keep it out.
		return nil, facet.Errorf(facet.EInvalid, "servicebus: bad connection string")
	}
	c := New(client, opts)
	c.closeClient = client.Close
	return c, nil
}

func newClient(opts *Options) *Client {
	c := &Client{
		maxUnsettled: defaultMaxUnsettled,
		senders:      map[string]sender{},
		receivers:    map[string]receiver{},
		deadLetters:  map[string]receiver{},
		unsettled:    map[lockKey]*azservicebus.ReceivedMessage{},
	}
	if opts != nil && opts.MaxUnsettled > 0 {
		c.maxUnsettled = opts.MaxUnsettled
	}
	return c
}

// Send enqueues msg now. An empty ID gets a random one, so that every
// message can be traced whichever broker carries it.
func (c *Client) Send(ctx context.Context, queue string, msg facet.Message) error {
	s, err := c.sender(queue)
	if err != nil {
		return fail("send", queue, err)
	}
	if err := s.SendMessage(ctx, toSDK(msg), nil); err != nil {
		return fail("send", queue, err)
	}
	return nil
}

// Schedule enqueues msg for at and returns the sequence number Cancel
// takes. Service Bus gives the message a new sequence number when it falls
// due, so this one names the scheduled message only.
func (c *Client) Schedule(ctx context.Context, queue string, msg facet.Message, at time.Time) (int64, error) {
	s, err := c.sender(queue)
	if err != nil {
		return 0, fail("schedule", queue, err)
	}
	seqs, err := s.ScheduleMessages(ctx, []*azservicebus.Message{toSDK(msg)}, at, nil)
	if err != nil {
		return 0, fail("schedule", queue, err)
	}
	if len(seqs) != 1 {
		return 0, facet.Errorf(facet.EInternal, "servicebus: schedule %s: got %d sequence numbers for one message", queue, len(seqs))
	}
	return seqs[0], nil
}

// Cancel removes a scheduled message. Service Bus answers "not found" for
// a sequence number it does not hold as scheduled (delivered, cancelled or
// never issued); the port calls that success.
func (c *Client) Cancel(ctx context.Context, queue string, seq int64) error {
	s, err := c.sender(queue)
	if err != nil {
		return fail("cancel", queue, err)
	}
	err = s.CancelScheduledMessages(ctx, []int64{seq}, nil)
	if hasCode(err, azservicebus.CodeNotFound) {
		return nil
	}
	if err != nil {
		return fail("cancel", queue, err)
	}
	return nil
}

// Receive locks and returns up to max messages, waiting up to wait for the
// first; none is an empty slice and no error. When fewer than max come, it
// waits a further 100 ms for any already on their way and then closes the
// queue's link, so that no credit is left open while nobody receives; the
// next Receive opens a new link. A message the broker sends just as the
// link closes stays locked until its lock expires, then comes again.
func (c *Client) Receive(ctx context.Context, queue string, max int, wait time.Duration) ([]facet.Delivery, error) {
	const op = "receive"
	if max < 1 || max > maxReceive {
		return nil, facet.Errorf(facet.EInvalid, "servicebus: %s %s: max is %d, not within 1..%d", op, queue, max, maxReceive)
	}
	r, fresh, err := c.receiver(queue)
	if err != nil {
		return nil, fail(op, queue, err)
	}
	if fresh {
		// ReceiveMessages cannot tell an unreachable service from an empty
		// queue once the wait ends first: both come back as the wait's
		// deadline. A peek under the caller's context opens the links
		// first, so that failing to reach the service is an error.
		if _, err := r.PeekMessages(ctx, 1, nil); err != nil {
			c.dropReceiver(ctx, queue, r)
			return nil, fail(op, queue, err)
		}
	}

	wctx, cancel := context.WithTimeout(ctx, wait)
	msgs, err := r.ReceiveMessages(wctx, max, nil)
	waited := wctx.Err() != nil
	cancel()
	if len(msgs) < max && (err == nil || waited) {
		msgs = c.drain(ctx, r, msgs, max)
	}
	if len(msgs) < max {
		// The link still holds credit for the rest, and until the next
		// call the SDK releases whatever arrives on it. Service Bus does
		// not count a release, but the stand-in counts it as a delivery,
		// and with credit to spare an abandoned message would bounce
		// between broker and releaser into the dead-letter queue. Closing
		// the link returns the credit. Messages already received stay
		// settleable: the SDK settles them over the management link.
		c.dropReceiver(ctx, queue, r)
	}
	if len(msgs) == 0 {
		if ctx.Err() != nil {
			return nil, fail(op, queue, ctx.Err())
		}
		if err != nil && !waited {
			return nil, fail(op, queue, err)
		}
	}

	out := make([]facet.Delivery, 0, len(msgs))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		d := fromSDK(m)
		c.remember(lockKey{queue, d.SequenceNumber}, m)
		out = append(out, d)
	}
	return out, nil
}

// drain adds to msgs what the broker has already sent for the link's
// remaining credit, before Receive decides whether to close the link
// (which would strand those messages, locked, until their locks expired):
// a burst the broker sends at once may reach the SDK split across calls,
// as TCP's delayed acknowledgements hold the tail back for tens of
// milliseconds.
func (c *Client) drain(ctx context.Context, r receiver, msgs []*azservicebus.ReceivedMessage, max int) []*azservicebus.ReceivedMessage {
	for len(msgs) < max && ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, drainWait)
		more, _ := r.ReceiveMessages(dctx, max-len(msgs), nil)
		cancel()
		if len(more) == 0 {
			break
		}
		msgs = append(msgs, more...)
	}
	return msgs
}

// Complete removes a received message.
func (c *Client) Complete(ctx context.Context, queue string, d facet.Delivery) error {
	return c.settle(ctx, "complete", queue, d, func(r receiver, m *azservicebus.ReceivedMessage) error {
		return r.CompleteMessage(ctx, m, nil)
	})
}

// Abandon releases a received message's lock so that it is delivered
// again; Service Bus counts the delivery and dead-letters the message past
// the queue's MaxDeliveryCount.
func (c *Client) Abandon(ctx context.Context, queue string, d facet.Delivery) error {
	return c.settle(ctx, "abandon", queue, d, func(r receiver, m *azservicebus.ReceivedMessage) error {
		return r.AbandonMessage(ctx, m, nil)
	})
}

// DeadLetters peeks at up to max messages of the queue's dead-letter
// queue, oldest first, without locking or removing them.
func (c *Client) DeadLetters(ctx context.Context, queue string, max int) ([]facet.Delivery, error) {
	const op = "dead letters"
	if max < 1 {
		return nil, facet.Errorf(facet.EInvalid, "servicebus: %s %s: max is %d, below 1", op, queue, max)
	}
	r, err := c.deadLetterReceiver(queue)
	if err != nil {
		return nil, fail(op, queue, err)
	}
	out := []facet.Delivery{}
	// A peek may return fewer messages than asked for even when more
	// exist, so continue from the last one seen.
	from := int64(0)
	for len(out) < max {
		msgs, err := r.PeekMessages(ctx, max-len(out), &azservicebus.PeekMessagesOptions{FromSequenceNumber: &from})
		if err != nil {
			return nil, fail(op, queue, err)
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			d := fromSDK(m)
			out = append(out, d)
			if d.SequenceNumber >= from {
				from = d.SequenceNumber + 1
			}
		}
	}
	return out, nil
}

// Close closes every sender and receiver, and the SDK client if
// NewFromConnectionString made it. The Client is unusable afterwards.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	var closers []func(context.Context) error
	for _, s := range c.senders {
		closers = append(closers, s.Close)
	}
	for _, r := range c.receivers {
		closers = append(closers, r.Close)
	}
	for _, r := range c.deadLetters {
		closers = append(closers, r.Close)
	}
	clear(c.senders)
	clear(c.receivers)
	clear(c.deadLetters)
	clear(c.unsettled)
	c.order = nil
	c.mu.Unlock()

	if c.closeClient != nil {
		closers = append(closers, c.closeClient)
	}
	var errs []error
	for _, close := range closers {
		if err := close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("servicebus: close: %w", err)
	}
	return nil
}

// errClosed is the cause of every error after Close.
var errClosed = errors.New("client closed")

func (c *Client) sender(queue string) (sender, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errClosed
	}
	if s := c.senders[queue]; s != nil {
		return s, nil
	}
	s, err := c.newSender(queue)
	if err != nil {
		return nil, err
	}
	c.senders[queue] = s
	return s, nil
}

// receiver returns the queue's receiver, and whether it was just made.
func (c *Client) receiver(queue string) (r receiver, fresh bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, false, errClosed
	}
	if r := c.receivers[queue]; r != nil {
		return r, false, nil
	}
	r, err = c.newReceiver(queue, 0)
	if err != nil {
		return nil, false, err
	}
	c.receivers[queue] = r
	return r, true, nil
}

func (c *Client) deadLetterReceiver(queue string) (receiver, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errClosed
	}
	if r := c.deadLetters[queue]; r != nil {
		return r, nil
	}
	r, err := c.newReceiver(queue, azservicebus.SubQueueDeadLetter)
	if err != nil {
		return nil, err
	}
	c.deadLetters[queue] = r
	return r, nil
}

// dropReceiver closes r and forgets it, so that the queue's next receive
// opens a new link. The close outlives a cancelled ctx: a half-closed link
// would keep its credit.
func (c *Client) dropReceiver(ctx context.Context, queue string, r receiver) {
	c.mu.Lock()
	if c.receivers[queue] == r {
		delete(c.receivers, queue)
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	// A failed close leaves nothing to do: the link is gone either way.
	_ = r.Close(ctx)
}

// settle finds the message d was delivered as and settles it with fn on the
// queue's current receiver.
func (c *Client) settle(ctx context.Context, op, queue string, d facet.Delivery, fn func(receiver, *azservicebus.ReceivedMessage) error) error {
	key := lockKey{queue, d.SequenceNumber}
	c.mu.Lock()
	m := c.unsettled[key]
	c.mu.Unlock()
	// A later delivery of the same message replaces the earlier one; the
	// earlier lock is gone.
	if m == nil || int(m.DeliveryCount) != d.DeliveryCount {
		return facet.Errorf(facet.EConflict, "servicebus: %s %s: message %d is not locked by this delivery (settled, forgotten, or its lock expired)", op, queue, d.SequenceNumber)
	}
	r, _, err := c.receiver(queue)
	if err != nil {
		return fail(op, queue, err)
	}
	err = fn(r, m)
	if err == nil || hasCode(err, azservicebus.CodeLockLost) {
		c.mu.Lock()
		if c.unsettled[key] == m {
			delete(c.unsettled, key)
		}
		c.mu.Unlock()
	}
	if err != nil {
		return fail(op, queue, err)
	}
	return nil
}

// remember keeps m for settling, forgetting the oldest past the bound.
// c.mu must be held.
func (c *Client) remember(key lockKey, m *azservicebus.ReceivedMessage) {
	if _, ok := c.unsettled[key]; !ok {
		c.order = append(c.order, key)
	}
	c.unsettled[key] = m
	for len(c.unsettled) > c.maxUnsettled && len(c.order) > 0 {
		delete(c.unsettled, c.order[0])
		c.order = c.order[1:]
	}
	// Settled keys linger in order; compact it before it grows far past
	// the live ones.
	if len(c.order) > 2*c.maxUnsettled {
		live := c.order[:0]
		for _, k := range c.order {
			if _, ok := c.unsettled[k]; ok {
				live = append(live, k)
			}
		}
		c.order = live
	}
}

func toSDK(msg facet.Message) *azservicebus.Message {
	id := msg.ID
	if id == "" {
		id = rand.Text()
	}
	var props map[string]any
	if len(msg.Properties) > 0 {
		props = make(map[string]any, len(msg.Properties))
		for k, v := range msg.Properties {
			props[k] = v
		}
	}
	ct := contentType
	return &azservicebus.Message{
		MessageID:             &id,
		Body:                  msg.Body,
		ContentType:           &ct,
		ApplicationProperties: props,
	}
}

func fromSDK(m *azservicebus.ReceivedMessage) facet.Delivery {
	d := facet.Delivery{
		Message:       facet.Message{ID: m.MessageID, Body: m.Body},
		DeliveryCount: int(m.DeliveryCount),
	}
	if len(m.ApplicationProperties) > 0 {
		d.Properties = make(map[string]string, len(m.ApplicationProperties))
		for k, v := range m.ApplicationProperties {
			if s, ok := v.(string); ok {
				d.Properties[k] = s
			} else {
				// Set by Service Bus or another sender, not by this port.
				d.Properties[k] = fmt.Sprint(v)
			}
		}
	}
	if m.SequenceNumber != nil {
		d.SequenceNumber = *m.SequenceNumber
	}
	if m.EnqueuedTime != nil {
		d.EnqueuedTime = *m.EnqueuedTime
	}
	return d
}

// fail wraps err with the operation and the facet code it stands for.
func fail(op, queue string, err error) error {
	return facet.Errorf(code(err), "servicebus: %s %s: %w", op, queue, err)
}

// code classifies an SDK, AMQP or network error, once, at the boundary.
func code(err error) string {
	var sbErr *azservicebus.Error
	if errors.As(err, &sbErr) {
		switch sbErr.Code {
		case azservicebus.CodeLockLost:
			// The lock expired or the message was settled: Service Bus
			// delivers it again, or already has.
			return facet.EConflict
		case azservicebus.CodeConnectionLost, azservicebus.CodeTimeout:
			return facet.EUnavailable
		case azservicebus.CodeNotFound, azservicebus.CodeUnauthorizedAccess:
			// A missing queue or a missing role assignment is the
			// deployment's fault, never the caller's: report the
			// dependency as failing (role assignments take minutes to
			// apply, so a retry may well succeed) rather than a 404 or 401.
			return facet.EUnavailable
		}
	}
	var amqpErr *amqp.Error
	if errors.As(err, &amqpErr) && amqpErr.Condition == amqp.ErrCondMessageSizeExceeded {
		return facet.ETooLarge
	}
	var (
		netErr     net.Error
		connErr    *amqp.ConnError
		sessionErr *amqp.SessionError
		linkErr    *amqp.LinkError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// The operation did not finish; errors.Is still finds the
		// context's error for callers that tell the two apart.
		return facet.EUnavailable
	case errors.Is(err, io.EOF), errors.As(err, &netErr),
		errors.As(err, &connErr), errors.As(err, &sessionErr), errors.As(err, &linkErr),
		errors.As(err, &amqpErr):
		// Every AMQP error the SDK does not classify comes from the
		// service or the way to it (a missing entity is amqp:not-found).
		return facet.EUnavailable
	}
	return facet.EInternal
}

func hasCode(err error, c azservicebus.Code) bool {
	var sbErr *azservicebus.Error
	return errors.As(err, &sbErr) && sbErr.Code == c
}
