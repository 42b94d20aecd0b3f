// Package acsemail sends mail with Azure Communication Services Email:
// the facet.Mailer port over the service's REST API, since there is no
// Go SDK for it. Requests carry a Microsoft Entra ID token of the app's
// managed identity; the resource's access keys are never used.
//
// The request, as the API reference gives it
// (https://learn.microsoft.com/en-us/rest/api/communication/email/send,
// and its source, azure-rest-api-specs
// specification/communication/data-plane/Email/stable/2023-03-31):
//
//	POST {endpoint}/emails:send?api-version=2023-03-31
//	Authorization: Bearer <token>
//	Operation-Id: <uuid>
//	{"senderAddress": "...", "recipients": {"to": [{"address": "..."}]},
//	 "content": {"subject": "...", "plainText": "...", "html": "..."}}
//
// answered with 202 Accepted once the service has queued the mail.
package acsemail

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/humaninsight/facet"
)

// APIVersion is the Email API version requested: the generally available
// one the reference documents.
const APIVersion = "2023-03-31"

// Scope is the Entra ID scope of the token. The official Communication
// Services SDKs (.NET, Java, JavaScript, Python) all ask for this one,
// with its double slash: the resource is "https://communication.azure.com/".
const Scope = "https://communication.azure.com//.default"

// Defaults, taken when Options leaves a field zero.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultTryTimeout    = 10 * time.Second
	DefaultMaxRetries    = 2
	DefaultMaxRetryDelay = 5 * time.Second
)

// moduleName and moduleVersion name the client in the User-Agent.
const (
	moduleName    = "facet-acsemail"
	moduleVersion = "v1"
)

// maxErrorBody bounds how much of an error answer is read for its code.
const maxErrorBody = 16 << 10

// Options tunes a Mailer. The zero value (or nil) takes the defaults.
type Options struct {
	// Timeout bounds a whole Send, retries included. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxRetries is how many times a try that got no answer, or 408, 429
	// or 5xx, is repeated within one Send, with the same request ids so
	// that the service queues the mail once. Zero means
	// DefaultMaxRetries; negative means no retry.
	MaxRetries int32
	// RetryDelay is the wait before the first retry when the service gave
	// no Retry-After; it doubles with each retry. Zero means azcore's
	// default (0.8 s). A Retry-After above DefaultMaxRetryDelay ends the
	// retries: the caller hears EUnavailable with the service's time.
	RetryDelay time.Duration
	// Transport sends the requests; nil means azcore's default client.
	// Tests pass an httptest server's client.
	Transport policy.Transporter
}

// Mailer is a facet.Mailer over Azure Communication Services Email. Safe
// for concurrent use.
type Mailer struct {
	send    string // the emails:send URL with its api-version
	sender  string
	pl      runtime.Pipeline
	timeout time.Duration
}

var _ facet.Mailer = (*Mailer)(nil)

// New returns a Mailer that sends from sender (an address of a domain
// linked to the resource, such as DoNotReply@<guid>.azurecomms.net)
// through the resource at endpoint (https://<name>.communication.azure.com,
// as the resource's hostName gives it), with tokens from cred (the
// managed identity in Azure).
func New(endpoint, sender string, cred azcore.TokenCredential, opt *Options) (*Mailer, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("acsemail: endpoint %q is not https://<resource host>", endpoint)
	}
	if err := (facet.Mail{To: sender, Subject: "-", Text: "-"}).Validate(); err != nil {
		return nil, fmt.Errorf("acsemail: sender %q is not one plain address", sender)
	}
	if cred == nil {
		return nil, errors.New("acsemail: no token credential")
	}
	if opt == nil {
		opt = &Options{}
	}
	m := &Mailer{
		send:    "https://" + u.Host + "/emails:send?api-version=" + APIVersion,
		sender:  sender,
		timeout: orDefault(opt.Timeout, DefaultTimeout),
	}
	retries := opt.MaxRetries
	if retries == 0 {
		retries = DefaultMaxRetries
	}
	m.pl = runtime.NewPipeline(moduleName, moduleVersion, runtime.PipelineOptions{
		// Per retry, so that a retry after a token expired gets a new one.
		PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{Scope}, nil)},
	}, &policy.ClientOptions{
		Transport: opt.Transport,
		Retry: policy.RetryOptions{
			MaxRetries:    retries,
			TryTimeout:    DefaultTryTimeout,
			RetryDelay:    opt.RetryDelay,
			MaxRetryDelay: DefaultMaxRetryDelay,
		},
	})
	return m, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// message is the request body (EmailMessage in the API reference).
type message struct {
	SenderAddress string     `json:"senderAddress"`
	Recipients    recipients `json:"recipients"`
	Content       content    `json:"content"`
	// UserEngagementTrackingDisabled keeps the service from rewriting the
	// links for click tracking: a sign-up link carries its token in the
	// fragment, which must reach nobody but the recipient's browser.
	UserEngagementTrackingDisabled bool `json:"userEngagementTrackingDisabled"`
}

type recipients struct {
	To []address `json:"to"`
}

type address struct {
	Address string `json:"address"`
}

type content struct {
	Subject   string `json:"subject"`
	PlainText string `json:"plainText"`
	HTML      string `json:"html,omitempty"`
}

// Send asks the service to send m and returns once it has accepted the
// mail (202), not when the mail has been delivered.
func (s *Mailer) Send(ctx context.Context, m facet.Mail) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("acsemail: send: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	id := newUUID()
	req, err := s.request(ctx, m, id, time.Now())
	if err != nil {
		return fmt.Errorf("acsemail: send: %w", err)
	}
	resp, err := s.pl.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("acsemail: send: %w", err)
		}
		return &facet.Error{Code: facet.EUnavailable, Message: "acsemail: send: no answer from the mail service, or no token for it",
			Err: fmt.Errorf("operation %s: %w", id, err)}
	}
	defer resp.Body.Close()
	return classify(resp, id)
}

// request builds the POST. One id per Send serves as the Operation-Id and
// as the Repeatability-Request-Id, and the retries of the pipeline resend
// the very same headers: a try whose answer was lost and that the service
// did accept is then not queued a second time. Repeatable requests
// (https://learn.microsoft.com/en-us/rest/api/communication/repeatable-requests,
// which names the Email Send API) want the first try's time in
// Repeatability-First-Sent, in IMF-fixdate (RFC 7231, RFC 1123's format in
// GMT), and track repeats for 5 minutes, well above a Send's timeout.
func (s *Mailer) request(ctx context.Context, m facet.Mail, id string, now time.Time) (*policy.Request, error) {
	req, err := runtime.NewRequest(ctx, http.MethodPost, s.send)
	if err != nil {
		return nil, err
	}
	h := req.Raw().Header
	h.Set("Operation-Id", id)
	h.Set("Repeatability-Request-Id", id)
	h.Set("Repeatability-First-Sent", now.UTC().Format(http.TimeFormat))
	body := message{
		SenderAddress:                  s.sender,
		Recipients:                     recipients{To: []address{{Address: m.To}}},
		Content:                        content{Subject: m.Subject, PlainText: m.Text, HTML: m.HTML},
		UserEngagementTrackingDisabled: true,
	}
	if err := runtime.MarshalAsJSON(req, body); err != nil {
		return nil, err
	}
	return req, nil
}

// classify turns the service's answer into the port's codes, once, here.
// Messages name the status and the service's error code only: its error
// message may repeat the recipient's address, which is personal data and
// must stay out of answers and logs.
func classify(resp *http.Response, id string) error {
	const prefix = "acsemail: send: "
	if resp.StatusCode == http.StatusAccepted {
		return nil
	}
	code := errorCode(resp)
	cause := fmt.Errorf("operation %s: status %d, error code %q", id, resp.StatusCode, code)
	s := resp.StatusCode
	switch {
	case s == http.StatusBadRequest || s == http.StatusRequestEntityTooLarge || s == http.StatusUnprocessableEntity:
		return &facet.Error{Code: facet.EInvalid, Message: fmt.Sprintf("%sthe mail service refused the mail (%s)", prefix, describe(s, code)), Err: cause}
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return &facet.Error{Code: facet.EInternal, Err: cause, Message: fmt.Sprintf("%sthe mail service refused our credentials (%s): "+
			"the app's managed identity lacks the role that may send mail on the Communication Services resource, "+
			"or the role assignment has not taken effect yet (infra/modules/mail.bicep)", prefix, describe(s, code))}
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		return &facet.Error{Code: facet.EUnavailable, Message: fmt.Sprintf("%sthe mail service is busy or failing (%s)", prefix, describe(s, code)),
			Err: cause, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	return &facet.Error{Code: facet.EInternal, Message: fmt.Sprintf("%sunexpected answer from the mail service (%s)", prefix, describe(s, code)), Err: cause}
}

func describe(status int, code string) string {
	if code == "" {
		return "status " + strconv.Itoa(status)
	}
	return "status " + strconv.Itoa(status) + ", " + code
}

// errorToken is what an error code looks like (InvalidSenderAddress,
// TooManyRequests); anything else in its place is dropped, not echoed.
var errorToken = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]{0,63}$`)

// errorCode returns the service's error code: the x-ms-error-code
// header, else error.code of the ErrorResponse body.
func errorCode(resp *http.Response) string {
	code := resp.Header.Get("x-ms-error-code")
	if code == "" {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil {
			code = e.Error.Code
		}
	}
	if !errorToken.MatchString(code) {
		return ""
	}
	return code
}

// retryAfter reads a Retry-After value: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

// newUUID returns a random (version 4) UUID, the form Operation-Id and
// Repeatability-Request-Id take.
func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
