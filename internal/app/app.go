// Package app holds facet's use cases: clients, projects, consent and
// upload slots, analysis runs. It works over the ports of package facet
// (documents, blobs, queues) and an Analyzer, so the same code runs on
// Azure, on the local stand-ins and in memory. HTTP and the Functions
// protocol live in handlers; this package returns *facet.Error codes.
package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/humaninsight/facet"
)

// Analyzer runs the analysis engine on one video file.
type Analyzer interface {
	// AnalyzeFile analyses input with the given settings, calling onFrame for
	// each frame in order, and returns the result without frames. A
	// video that is unusable gives an error facet.IsBadVideo recognises.
	AnalyzeFile(ctx context.Context, input string, s facet.Settings, maxDurationS float64, onFrame func(facet.Frame) error) (*facet.Result, error)
	// Installed returns nil when the model set can be used.
	Installed(models string) error
}

// Config holds the settings of the app.
type Config struct {
	PublicBaseURL  string        // participant links: <PublicBaseURL>/p/<token>
	StorageAccount string        // the uploads account's name, to check events
	UploadTTL      time.Duration // lifetime of an upload link; 0 = 2 h
	InvitationTTL  time.Duration // default invitation lifetime; 0 = 14 days
	VideoURLTTL    time.Duration // lifetime of a read link; 0 = 15 min
	TempDir        string        // where videos are staged for ffmpeg; "" = os.TempDir
	ChunkSeconds   float64       // timeline chunk length; 0 = 60
	ChunkFrames    int           // timeline chunk size cap; 0 = 600
	OrphanShareMax float64       // share of all blobs the sweep may delete as orphans; 0 = 0.1
	Limits         Limits        // per-client limits; zero fields take DefaultLimits
	// MaxStimulusBytes bounds a stimulus's file; 0 = facet.MaxStimulusBytes.
	MaxStimulusBytes int64
	// WebhookAllowLocal lets webhooks use http on loopback: local
	// development only (the sender must allow it too), never in Azure.
	WebhookAllowLocal bool
}

// App is the service. All methods are safe for concurrent use.
type App struct {
	Store    facet.DocStore
	Blobs    facet.BlobStore
	Queue    facet.Queue
	Analyzer Analyzer
	Log      *slog.Logger
	Now      func() time.Time
	Retries  RetryPolicy      // of queue messages that failed transiently
	Hooks    facet.HookSender // posts webhook deliveries; set by the wiring
	Media    MediaProber      // probes stimulus files; set by the wiring
	// Mail sends the sign-up and invitation mails; set by the wiring
	// (Azure Communication Services, or an outbox folder locally).
	Mail facet.Mailer
	// HookRetry is the wait after the n-th failed attempt of a webhook
	// delivery: facet.HookRetryDelay, but for tests that cannot wait.
	HookRetry func(n int) time.Duration
	cfg       Config
}

// New returns an App. Zero durations in cfg take their defaults.
func New(cfg Config, store facet.DocStore, blobs facet.BlobStore, queue facet.Queue, an Analyzer, log *slog.Logger) *App {
	if cfg.UploadTTL == 0 {
		cfg.UploadTTL = 2 * time.Hour
	}
	if cfg.InvitationTTL == 0 {
		cfg.InvitationTTL = 14 * 24 * time.Hour
	}
	if cfg.VideoURLTTL == 0 {
		cfg.VideoURLTTL = 15 * time.Minute
	}
	if cfg.ChunkSeconds == 0 {
		cfg.ChunkSeconds = 60
	}
	if cfg.ChunkFrames == 0 {
		cfg.ChunkFrames = 600
	}
	if cfg.OrphanShareMax == 0 {
		cfg.OrphanShareMax = 0.1
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.MaxStimulusBytes == 0 {
		cfg.MaxStimulusBytes = facet.MaxStimulusBytes
	}
	if log == nil {
		log = slog.Default()
	}
	return &App{Store: store, Blobs: blobs, Queue: queue, Analyzer: an, Log: log, Now: func() time.Time { return time.Now().UTC() }, Retries: DefaultRetry, HookRetry: facet.HookRetryDelay, cfg: cfg}
}

// Config returns the app's configuration with defaults applied.
func (a *App) Config() Config { return a.cfg }

func (a *App) now() time.Time { return a.Now().UTC().Truncate(time.Millisecond) }

// newID returns prefix_ and 24 random hex digits.
func newID(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// newSecret returns a random URL-safe secret with the given prefix.
func newSecret(prefix string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// hashHex returns the sha256 of s in hex: how keys and tokens are stored.
func hashHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// get reads one document into v and sets its ETag through setETag.
func get[T any](ctx context.Context, s facet.DocStore, container, pk, id string) (*T, string, error) {
	d, err := s.Read(ctx, container, pk, id)
	if err != nil {
		return nil, "", err
	}
	v := new(T)
	if err := json.Unmarshal(d.JSON, v); err != nil {
		return nil, "", fmt.Errorf("app: decode %s %s: %w", container, id, err)
	}
	return v, d.ETag, nil
}

func create(ctx context.Context, s facet.DocStore, container, pk string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return s.Create(ctx, container, pk, b)
}

func replace(ctx context.Context, s facet.DocStore, container, pk string, v any, etag string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return s.Replace(ctx, container, pk, b, etag)
}

func upsert(ctx context.Context, s facet.DocStore, container, pk string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = s.Upsert(ctx, container, pk, b)
	return err
}

// query decodes one page of documents.
func query[T any](ctx context.Context, s facet.DocStore, container string, q facet.Query) ([]T, string, error) {
	p, err := s.Query(ctx, container, q)
	if isCode(err, facet.EInvalid) && q.Continuation != "" {
		// The store's refusal names the store.
		return nil, "", facet.Errorf(facet.EInvalid, "continuationToken: not one this API gave out")
	}
	if err != nil {
		return nil, "", err
	}
	out := make([]T, 0, len(p.Docs))
	for _, d := range p.Docs {
		var v T
		if err := json.Unmarshal(d.JSON, &v); err != nil {
			return nil, "", fmt.Errorf("app: decode %s: %w", container, err)
		}
		out = append(out, v)
	}
	return out, p.Continuation, nil
}

// notFound is the one answer for unknown ids and other clients' ids.
func notFound(what string) error { return facet.Errorf(facet.ENotFound, "%s not found", what) }

func isCode(err error, code string) bool { return facet.ErrorCode(err) == code }

// asNotFound turns a store's ENotFound into the client-facing message.
func asNotFound(err error, what string) error {
	if isCode(err, facet.ENotFound) {
		return notFound(what)
	}
	return err
}
