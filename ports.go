package facet

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/mail"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Container names and their partition key paths. Each stored document is a
// JSON object with a string "id" and the partition key field; the store
// adds nothing else to it (ETags travel beside documents, not inside).
const (
	CClients     = "clients"     // pk /id
	CAPIKeys     = "apikeys"     // pk /id (the key's hash)
	CProjects    = "projects"    // pk /clientId
	CInvitations = "invitations" // pk /id (the token's hash)
	CRecordings  = "recordings"  // pk /projectId
	CAnalyses    = "analyses"    // pk /recordingId: run summaries and timeline chunks
	CAudit       = "audit"       // pk /clientId
)

// Containers lists every container with its partition key path and the
// fields the app orders queries on (each needs a composite index with id
// in Cosmos DB), in the order the stand-ins and Bicep create them.
var Containers = []struct {
	Name, PartitionKey string
	OrderBy            []string
}{
	{CClients, "/id", nil},
	{CAPIKeys, "/id", nil},
	{CProjects, "/clientId", []string{"createdAt"}},
	{CInvitations, "/id", []string{"createdAt"}},
	{CRecordings, "/projectId", []string{"createdAt"}},
	{CAnalyses, "/recordingId", []string{"createdAt", "index"}},
	{CAudit, "/clientId", []string{"at"}},
	{CWebhooks, "/clientId", []string{"createdAt"}},
	{CStimuli, "/projectId", []string{"createdAt"}},
	{CAccounts, "/id", nil},
	{CLogins, "/id", nil},
	{CSessions, "/accountId", nil},
	{CTeamInvites, "/id", nil},
}

// OrderFields returns Containers' OrderBy lists by container name.
func OrderFields() map[string][]string {
	m := map[string][]string{}
	for _, c := range Containers {
		m[c.Name] = c.OrderBy
	}
	return m
}

// Query selects documents of one container: every Where field equals its
// value (AND), ordered by OrderBy (descending when Desc; ties broken by id),
// at most Limit per page (0 = the store's default, 100). Partition "" reads
// across partitions. Field names are top-level JSON keys; values are
// strings, numbers or booleans.
type Query struct {
	Partition    string
	Where        map[string]any
	OrderBy      string
	Desc         bool
	Limit        int
	Continuation string // from the previous Page; "" for the first
}

// Page is one page of query results: raw JSON documents with their ETags.
// Continuation is "" after the last page.
type Page struct {
	Docs         []Doc
	Continuation string
}

// Doc is a stored JSON document and its ETag.
type Doc struct {
	JSON []byte
	ETag string
}

// DocStore keeps JSON documents in partitioned containers (Cosmos DB's
// NoSQL API). Implementations are safe for concurrent use. Errors carry
// facet codes: ENotFound for a missing document, EConflict when Create
// finds the id taken or an IfMatch ETag no longer matches, EUnavailable
// when the service cannot be reached (the caller may retry).
type DocStore interface {
	// Create stores a new document; EConflict if its id exists in the partition.
	Create(ctx context.Context, container, partition string, doc []byte) (etag string, err error)
	// Read returns one document by partition and id.
	Read(ctx context.Context, container, partition, id string) (Doc, error)
	// Replace overwrites an existing document; with ifMatch != "" only if
	// its ETag still matches. ENotFound if it does not exist.
	Replace(ctx context.Context, container, partition string, doc []byte, ifMatch string) (etag string, err error)
	// Upsert creates or overwrites a document, unconditionally.
	Upsert(ctx context.Context, container, partition string, doc []byte) (etag string, err error)
	// Delete removes a document; with ifMatch != "" only if its ETag
	// matches. A missing document is ENotFound.
	Delete(ctx context.Context, container, partition, id, ifMatch string) error
	// Query returns one page of matching documents.
	Query(ctx context.Context, container string, q Query) (Page, error)
}

// Blob types, as Blob Storage names them (BlobInfo.Type).
const (
	BlockBlob  = "BlockBlob"
	PageBlob   = "PageBlob"
	AppendBlob = "AppendBlob"
)

// BlobInfo describes a stored blob.
type BlobInfo struct {
	Name         string // without the container
	Size         int64
	ETag         string
	LastModified time.Time
	// Type is BlockBlob, PageBlob or AppendBlob. A create ("c") link lets
	// its holder choose: besides the block blob the participant page
	// uploads, one PUT with x-ms-blob-type: PageBlob and
	// x-ms-blob-content-length creates a zero-filled page blob of any
	// declared size (up to 8 TiB) without sending a byte, and AppendBlob
	// an empty append blob; Azure and Azurite both accept them. Only a
	// block blob within the size limit is a recording: check Type and
	// Size before reading.
	Type string
	// ContentType is the content type the uploader declared (Content-Type
	// or x-ms-blob-content-type): whatever the browser sent, never to be
	// trusted or served as it is (see ReadURL).
	ContentType string
}

// DownloadOptions bound a Download.
type DownloadOptions struct {
	// IfMatch pins the version: with an ETag (quoted or not, as Stat or a
	// BlobCreated event spells it) the download fails with EConflict if
	// the blob has changed since; "" reads whatever is there.
	IfMatch string
	// MaxBytes caps the size: a blob larger than MaxBytes fails with
	// ETooLarge before anything is written to w (the length is known from
	// the response headers), and should the length lie, the copy stops
	// after MaxBytes bytes with ETooLarge: at most MaxBytes bytes reach w
	// and at most one more is read. 0 means no limit; negative is EInvalid.
	MaxBytes int64
}

// ReadHeaders are the response headers a read link forces, whatever the
// uploader declared. Both are required.
type ReadHeaders struct {
	ContentType        string // e.g. "video/webm"
	ContentDisposition string // e.g. `attachment; filename="recording.webm"`
}

// Validate returns an EInvalid error unless both headers are set and
// free of control characters (a line break would smuggle in a header
// wherever the value is copied into a response).
func (h ReadHeaders) Validate() error {
	for _, f := range []struct{ name, value string }{
		{"content type", h.ContentType},
		{"content disposition", h.ContentDisposition},
	} {
		if f.value == "" {
			return Errorf(EInvalid, "read headers: the %s is required", f.name)
		}
		if strings.ContainsFunc(f.value, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			return Errorf(EInvalid, "read headers: the %s holds a control character", f.name)
		}
	}
	return nil
}

// Permissions a shared-access URL grants.
const (
	SASCreate = "c" // write a new blob (single PUT or blocks); never overwrite
	SASRead   = "r"
)

// BlobStore keeps videos in one container. Implementations are safe for
// concurrent use. Errors: ENotFound for a missing blob, EUnavailable when
// the service cannot be reached, EInvalid for a bad argument.
type BlobStore interface {
	// SignedURL returns an HTTPS (locally HTTP) URL for one blob that
	// grants exactly perm until expiry, without any other credential.
	// The app uses it for create (upload) links only: a read link from
	// SignedURL serves the blob with the content type its uploader
	// declared (text/html, say), so the app's read links come from ReadURL.
	SignedURL(ctx context.Context, name, perm string, expiry time.Time) (string, error)
	// ReadURL returns a read-only URL for one blob, valid until expiry,
	// whose responses (GET and HEAD, ranges included) carry h's
	// Content-Type and Content-Disposition instead of the stored ones: the
	// SAS signs them (rsct, rscd), so they cannot be edited or dropped.
	// Empty fields, or values with control characters, are EInvalid.
	ReadURL(ctx context.Context, name string, expiry time.Time, h ReadHeaders) (string, error)
	// Stat returns the blob's properties.
	Stat(ctx context.Context, name string) (BlobInfo, error)
	// Download streams the blob into w within opt's bounds: EConflict
	// when opt.IfMatch no longer matches, ETooLarge beyond opt.MaxBytes.
	// It reads any blob type; callers check Stat's Type first.
	Download(ctx context.Context, name string, w io.Writer, opt DownloadOptions) error
	// Upload stores r as a block blob (used by tests and tools, not by
	// participants).
	Upload(ctx context.Context, name string, r io.Reader) (BlobInfo, error)
	// Delete removes the blob and its snapshots; a missing blob is not an error.
	Delete(ctx context.Context, name string) error
	// List calls fn for every blob whose name starts with prefix, page by
	// page, holding one page in memory; an error from fn stops it.
	List(ctx context.Context, prefix string, fn func(BlobInfo) error) error
}

// Message is one queue message.
type Message struct {
	ID         string            // MessageId; "" lets the queue choose
	Body       []byte            // JSON
	Properties map[string]string // application properties
}

// Queue sends work to Service Bus queues. Implementations are safe for
// concurrent use. Errors: EUnavailable when the service cannot be reached.
type Queue interface {
	// Send enqueues msg now.
	Send(ctx context.Context, queue string, msg Message) error
	// Schedule enqueues msg for delivery at (not before) at and returns its
	// sequence number, which Cancel takes.
	Schedule(ctx context.Context, queue string, msg Message, at time.Time) (seq int64, err error)
	// Cancel removes a scheduled message that has not been delivered yet.
	// Cancelling one already delivered or cancelled is not an error.
	Cancel(ctx context.Context, queue string, seq int64) error
}

// HookPost is one webhook delivery attempt: a POST of Body (JSON) to URL
// with Header (the signature) besides Content-Type: application/json.
type HookPost struct {
	URL    string
	Body   []byte
	Header map[string]string
}

// HookAnswer is what a webhook endpoint answered.
type HookAnswer struct {
	Status  int           // the HTTP status code
	Latency time.Duration // from the start of the attempt to the answer's headers
}

// HookSender posts webhook deliveries to clients' endpoints.
// Implementations are safe for concurrent use, follow no redirect (a 3xx
// is an answer like any other), read at most a few KB of an answer, and
// connect only to public addresses (PublicAddr), checked on the address
// actually dialled, so a host name that resolves to a private address is
// refused too. Post returns an answer whenever a status came back,
// whatever it was: what counts as delivered is the caller's call. Errors,
// when no status came back: EInvalid when the URL or the address it
// resolves to is refused, EUnavailable when the endpoint could not be
// reached or did not answer in time. Either way the latency is returned.
// A cancelled ctx gives an error that wraps context.Canceled.
type HookSender interface {
	Post(ctx context.Context, p HookPost) (HookAnswer, error)
}

// Queue names.
const (
	QAnalysis  = "analysis"
	QDeletions = "deletions"
)

// Delivery is a received message as the Functions host hands it over, for
// the local host stand-in and tests.
type Delivery struct {
	Message
	DeliveryCount  int
	SequenceNumber int64
	EnqueuedTime   time.Time
}

// Receiver takes messages off a queue with peek-lock, as the Functions
// host's Service Bus trigger does. Used by the local host stand-in
// (devhost) and tests, never by the app. Not safe for concurrent use of
// one queue.
type Receiver interface {
	// Receive waits up to wait for at most max messages; none is not an error.
	Receive(ctx context.Context, queue string, max int, wait time.Duration) ([]Delivery, error)
	// Complete removes a received message.
	Complete(ctx context.Context, queue string, d Delivery) error
	// Abandon releases the lock so the message is delivered again (its
	// delivery count grows; past the queue's maximum it is dead-lettered).
	Abandon(ctx context.Context, queue string, d Delivery) error
	// DeadLetters returns up to max messages of the queue's dead-letter
	// queue without removing them.
	DeadLetters(ctx context.Context, queue string, max int) ([]Delivery, error)
}

// IsFieldName reports whether f is a plain top-level field name
// ([A-Za-z_][A-Za-z0-9_]*): the only kind a Query may name, so that no
// store ever puts caller text into query syntax.
func IsFieldName(f string) bool {
	if f == "" {
		return false
	}
	for i, r := range f {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case i > 0 && '0' <= r && r <= '9':
		default:
			return false
		}
	}
	return true
}

// QueryScalar normalises a Query.Where value to a string, a float64 or a
// bool, the scalar types a JSON document holds; ok is false for anything
// else (and for NaN and infinities, which JSON cannot hold).
func QueryScalar(v any) (any, bool) {
	var f float64
	switch v := v.(type) {
	case string, bool:
		return v, true
	case json.Number:
		n, err := v.Float64()
		if err != nil {
			return nil, false
		}
		f = n
	case float64:
		f = v
	case float32:
		f = float64(v)
	case int:
		f = float64(v)
	case int8:
		f = float64(v)
	case int16:
		f = float64(v)
	case int32:
		f = float64(v)
	case int64:
		f = float64(v)
	case uint:
		f = float64(v)
	case uint8:
		f = float64(v)
	case uint16:
		f = float64(v)
	case uint32:
		f = float64(v)
	case uint64:
		f = float64(v)
	default:
		// A named string type (a status) is its string.
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
			return rv.String(), true
		}
		return nil, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, false
	}
	return f, true
}

// SortKey orders JSON values as Cosmos DB's ORDER BY does: by type
// (missing, null, booleans, numbers, strings, arrays, objects), then by
// value within the scalar types. Stores that sort in Go (the in-memory
// one, and Cosmos DB's cross-partition queries) use it, so both order
// alike; it marshals compactly for continuation tokens.
type SortKey struct {
	Kind int     `json:"k"`
	B    bool    `json:"b,omitempty"`
	N    float64 `json:"n,omitempty"`
	S    string  `json:"s,omitempty"`
}

// SortKeyOf returns the key of a decoded JSON value; present is false for
// a missing field.
func SortKeyOf(v any, present bool) SortKey {
	if !present {
		return SortKey{}
	}
	switch v := v.(type) {
	case nil:
		return SortKey{Kind: 1}
	case bool:
		return SortKey{Kind: 2, B: v}
	case float64:
		return SortKey{Kind: 3, N: v}
	case string:
		return SortKey{Kind: 4, S: v}
	case []any:
		return SortKey{Kind: 5}
	default:
		return SortKey{Kind: 6}
	}
}

// Compare returns -1, 0 or +1 as a sorts before, with or after b.
func (a SortKey) Compare(b SortKey) int {
	if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	switch a.Kind {
	case 2:
		return cmp.Compare(boolInt(a.B), boolInt(b.B))
	case 3:
		return cmp.Compare(a.N, b.N)
	case 4:
		return strings.Compare(a.S, b.S)
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Limits of a Mail, checked by Validate.
const (
	// MaxMailSubject is the longest subject, in characters: a subject
	// longer than a line is cut by mail clients anyway.
	MaxMailSubject = 200
	// MaxMailAddress is the longest recipient address, in bytes: RFC
	// 5321's 256-byte path less its angle brackets.
	MaxMailAddress = 254
	// MaxMailBody bounds Text and HTML together, in bytes. Our mails are
	// a few lines with one link; Azure Communication Services takes up to
	// 10 MB per request, attachments included.
	MaxMailBody = 1 << 20
)

// Mail is one plain message to one person: a sign-up or invitation link,
// say. Text is required, since some people read mail as plain text only;
// HTML is the optional rich version of the same content. The sender is
// the Mailer's, never the caller's.
type Mail struct {
	To      string // one address, name@domain, without a display name
	Subject string
	Text    string
	HTML    string
}

// Validate returns an EInvalid error unless m can be sent as it is: To is
// one plain address, Subject is set, at most MaxMailSubject characters
// and on one line, Text is set, Text and HTML together are at most
// MaxMailBody bytes, and every field is valid UTF-8. Adapters call it
// before sending, so that the rule lives here and not in each of them.
// Messages never repeat the address: it is personal data.
func (m Mail) Validate() error {
	if err := checkMailAddress(m.To); err != nil {
		return err
	}
	for _, f := range []struct{ name, value string }{
		{"recipient", m.To}, {"subject", m.Subject}, {"text", m.Text}, {"HTML", m.HTML},
	} {
		if !utf8.ValidString(f.value) {
			return Errorf(EInvalid, "mail: the %s is not valid UTF-8", f.name)
		}
	}
	switch {
	case strings.TrimSpace(m.Subject) == "":
		return Errorf(EInvalid, "mail: the subject is required")
	case strings.ContainsFunc(m.Subject, lineBreakOrControl):
		// A line break would start a header of its own wherever the
		// subject is copied into one (header injection).
		return Errorf(EInvalid, "mail: the subject holds a line break or another control character")
	case utf8.RuneCountInString(m.Subject) > MaxMailSubject:
		return Errorf(EInvalid, "mail: the subject is longer than %d characters", MaxMailSubject)
	case strings.TrimSpace(m.Text) == "":
		return Errorf(EInvalid, "mail: the text is required")
	case len(m.Text)+len(m.HTML) > MaxMailBody:
		return Errorf(EInvalid, "mail: the text and HTML are larger than %d bytes together", MaxMailBody)
	}
	return nil
}

// checkMailAddress accepts one addr-spec with a dotted domain name, and
// nothing that a mail service would read as more than one recipient or
// as a header of its own: no display name, no list, no group, no
// comment, no quoted local part, no address literal, no white space and
// no control character.
func checkMailAddress(s string) error {
	switch {
	case s == "":
		return Errorf(EInvalid, "mail: the recipient address is required")
	case len(s) > MaxMailAddress:
		return Errorf(EInvalid, "mail: the recipient address is longer than %d bytes", MaxMailAddress)
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return Errorf(EInvalid, "mail: the recipient address holds white space, a line break or another control character")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return Errorf(EInvalid, "mail: the recipient is not one plain address (name@example.com)")
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if local == "" || strings.HasPrefix(local, `"`) || !strings.Contains(domain, ".") ||
		strings.ContainsAny(domain, "[]") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		strings.Contains(domain, "..") {
		return Errorf(EInvalid, "mail: the recipient is not one plain address (name@example.com)")
	}
	return nil
}

// lineBreakOrControl reports control characters (CR and LF among them)
// and Unicode's line and paragraph separators.
func lineBreakOrControl(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp)
}

// Mailer sends mail from the service's own address. Implementations are
// safe for concurrent use and call Mail.Validate first. Errors: EInvalid
// for a mail Validate refuses or the mail service refused as malformed
// (an address it cannot deliver to, say), EUnavailable when the service
// failed or could not be reached and a retry may succeed (with
// Error.RetryAfter when the service said when), EInternal for a set-up
// mistake that no retry mends (the service refused our credentials). A
// cancelled ctx gives an error that wraps context.Canceled. A nil error
// means the service accepted the mail for delivery, not that it arrived.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}
