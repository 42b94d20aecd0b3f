package servicebus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"
	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/porttest"
	"github.com/humaninsight/facet/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var (
	_ facet.Queue    = (*Client)(nil)
	_ facet.Receiver = (*Client)(nil)
)

// TestQueuePort runs the conformance suite against SERVICEBUS_CONNECTION_STRING
// or the stand-in, which testenv starts with a MaxDeliveryCount of 3.
func TestQueuePort(t *testing.T) {
	cs := testenv.ServiceBusService(t)
	c, err := NewFromConnectionString(cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	porttest.Queue(t, c, c, 3)
}

// TestUnreachable checks that a namespace nobody listens on is reported as
// EUnavailable, promptly, by every operation.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cs := fmt.Sprintf("Endpoint=sb://127.0.0.1:%d;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;", port)
	c, err := NewFromConnectionString(cs, &Options{ClientOptions: &azservicebus.ClientOptions{
		RetryOptions: azservicebus.RetryOptions{MaxRetries: 1, RetryDelay: 50 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })

	for _, tc := range []struct {
		name string
		fn   func(ctx context.Context) error
	}{
		{"Send", func(ctx context.Context) error { return c.Send(ctx, "q", facet.Message{Body: []byte(`{}`)}) }},
		{"Schedule", func(ctx context.Context) error {
			_, err := c.Schedule(ctx, "q", facet.Message{Body: []byte(`{}`)}, time.Now().Add(time.Hour))
			return err
		}},
		{"Cancel", func(ctx context.Context) error { return c.Cancel(ctx, "q", 1) }},
		{"Receive", func(ctx context.Context) error {
			_, err := c.Receive(ctx, "q", 1, time.Second)
			return err
		}},
		{"DeadLetters", func(ctx context.Context) error {
			_, err := c.DeadLetters(ctx, "q", 1)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			start := time.Now()
			err := tc.fn(ctx)
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("took %v", took)
			}
			if facet.ErrorCode(err) != facet.EUnavailable {
				t.Fatalf("error = %v (code %q), want code %q", err, facet.ErrorCode(err), facet.EUnavailable)
			}
			t.Logf("%v", err)
		})
	}
}

func TestCancelNotFound(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sdkErr   error
		wantCode string
	}{
		{"scheduled", nil, ""},
		// What Service Bus answers for a sequence number it does not hold
		// as scheduled ("Messages not found. Missing sequence numbers: ...").
		{"not found", &azservicebus.Error{Code: azservicebus.CodeNotFound}, ""},
		{"connection lost", &azservicebus.Error{Code: azservicebus.CodeConnectionLost}, facet.EUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(nil)
			c.newSender = func(string) (sender, error) { return &fakeSender{cancelErr: tc.sdkErr}, nil }
			err := c.Cancel(t.Context(), "q", 7)
			if facet.ErrorCode(err) != tc.wantCode {
				t.Errorf("Cancel = %v, want code %q", err, tc.wantCode)
			}
		})
	}
}

func TestCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&azservicebus.Error{Code: azservicebus.CodeConnectionLost}, facet.EUnavailable},
		{&azservicebus.Error{Code: azservicebus.CodeTimeout}, facet.EUnavailable},
		{&azservicebus.Error{Code: azservicebus.CodeNotFound}, facet.EUnavailable},
		{&azservicebus.Error{Code: azservicebus.CodeUnauthorizedAccess}, facet.EUnavailable},
		{&azservicebus.Error{Code: azservicebus.CodeLockLost}, facet.EConflict},
		{&azservicebus.Error{Code: azservicebus.CodeClosed}, facet.EInternal},
		{fmt.Errorf("dial: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), facet.EUnavailable},
		{io.EOF, facet.EUnavailable},
		{&amqp.Error{Condition: amqp.ErrCondNotFound}, facet.EUnavailable},
		{&amqp.Error{Condition: amqp.ErrCondMessageSizeExceeded}, facet.ETooLarge},
		{&amqp.LinkError{}, facet.EUnavailable},
		{context.DeadlineExceeded, facet.EUnavailable},
		{context.Canceled, facet.EUnavailable},
		{errors.New("something else"), facet.EInternal},
	} {
		if got := code(tc.err); got != tc.want {
			t.Errorf("code(%v) = %q, want %q", tc.err, got, tc.want)
		}
		err := fail("send", "q", tc.err)
		if !errors.Is(err, tc.err) {
			t.Errorf("fail(%v) does not wrap it", tc.err)
		}
		if want := "servicebus: send q: "; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
			t.Errorf("fail(%v) = %q, want the prefix %q", tc.err, err, want)
		}
	}
}

// TestUnsettledBound checks that the Client forgets the oldest unsettled
// message past MaxUnsettled, and that a settled message is forgotten.
func TestUnsettledBound(t *testing.T) {
	ctx := t.Context()
	r := &fakeReceiver{}
	for seq := int64(1); seq <= 3; seq++ {
		r.queued = append(r.queued, &azservicebus.ReceivedMessage{MessageID: fmt.Sprint(seq), SequenceNumber: &seq, DeliveryCount: 1})
	}
	c := newClient(&Options{MaxUnsettled: 2})
	c.newReceiver = func(string, azservicebus.SubQueue) (receiver, error) { return r, nil }

	got, err := c.Receive(ctx, "q", 3, time.Second)
	if err != nil || len(got) != 3 {
		t.Fatalf("Receive = %d messages, %v", len(got), err)
	}
	if err := c.Complete(ctx, "q", got[0]); facet.ErrorCode(err) != facet.EConflict {
		t.Errorf("Complete of the forgotten oldest = %v, want code %q", err, facet.EConflict)
	}
	for _, d := range got[1:] {
		if err := c.Complete(ctx, "q", d); err != nil {
			t.Errorf("Complete %d: %v", d.SequenceNumber, err)
		}
	}
	if err := c.Complete(ctx, "q", got[1]); facet.ErrorCode(err) != facet.EConflict {
		t.Errorf("second Complete = %v, want code %q", err, facet.EConflict)
	}
	if len(r.completed) != 2 || len(c.unsettled) != 0 {
		t.Errorf("completed %d, still remembered %d; want 2, 0", len(r.completed), len(c.unsettled))
	}
}

type fakeSender struct {
	sender
	cancelErr error
}

func (s *fakeSender) CancelScheduledMessages(context.Context, []int64, *azservicebus.CancelScheduledMessagesOptions) error {
	return s.cancelErr
}

type fakeReceiver struct {
	receiver
	queued    []*azservicebus.ReceivedMessage
	completed []*azservicebus.ReceivedMessage
}

func (r *fakeReceiver) PeekMessages(context.Context, int, *azservicebus.PeekMessagesOptions) ([]*azservicebus.ReceivedMessage, error) {
	return nil, nil
}

func (r *fakeReceiver) ReceiveMessages(ctx context.Context, max int, _ *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error) {
	n := min(max, len(r.queued))
	out := r.queued[:n]
	r.queued = r.queued[n:]
	return out, nil
}

func (r *fakeReceiver) CompleteMessage(_ context.Context, m *azservicebus.ReceivedMessage, _ *azservicebus.CompleteMessageOptions) error {
	r.completed = append(r.completed, m)
	return nil
}

func (r *fakeReceiver) Close(context.Context) error { return nil }
