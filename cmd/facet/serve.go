package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/handlers"
	"github.com/humaninsight/facet/internal/app"
	"github.com/humaninsight/facet/internal/azureblob"
	"github.com/humaninsight/facet/internal/cosmosdb"
	"github.com/humaninsight/facet/internal/engine"
	"github.com/humaninsight/facet/internal/httphook"
	"github.com/humaninsight/facet/internal/servicebus"
)

// deps are the wired parts of the service.
type deps struct {
	App     *app.App
	Engine  *engine.Engine
	Blobs   *azureblob.Store
	Bus     *servicebus.Client
	Store   facet.DocStore
	Account string // storage account name
	// BlobOrigin is the scheme://host[:port] of the storage account's Blob
	// endpoint: the participant page's CSP lets the browser upload there.
	BlobOrigin string
	shutdown   []func()
}

func (d *deps) Close() {
	for i := len(d.shutdown) - 1; i >= 0; i-- {
		d.shutdown[i]()
	}
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// wire connects to the backing services named by cfg: keys and connection
// strings for local stand-ins, the managed identity otherwise.
func wire(ctx context.Context, cfg config, log *slog.Logger) (*deps, error) {
	d := &deps{}
	var cred azcore.TokenCredential
	identity := func() (azcore.TokenCredential, error) {
		if cred != nil {
			return cred, nil
		}
		c, err := azidentity.NewDefaultAzureCredential(nil)
		cred = c
		return c, err
	}

	// Mail first: a configuration mistake there is found before any
	// connection is made.
	mail, err := mailer(cfg, identity)
	if err != nil {
		return nil, err
	}

	// Cosmos DB.
	if cfg.CosmosEndpoint == "" {
		return nil, errors.New("config: COSMOS_ENDPOINT is not set")
	}
	var cc *azcosmos.Client
	if cfg.CosmosKey != "" {
		kc, kerr := azcosmos.NewKeyCredential(cfg.CosmosKey)
		if kerr != nil {
			return nil, fmt.Errorf("config: COSMOS_KEY: %w", kerr)
		}
		cc, err = azcosmos.NewClientWithKey(cfg.CosmosEndpoint, kc, nil)
	} else {
		c, ierr := identity()
		if ierr != nil {
			return nil, ierr
		}
		cc, err = azcosmos.NewClient(cfg.CosmosEndpoint, c, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("cosmos: %w", err)
	}
	store := cosmosdb.New(cc, cfg.CosmosDatabase, &cosmosdb.Options{OrderBy: facet.OrderFields()})
	if cfg.CreateResources {
		if err := store.EnsureContainers(ctx); err != nil {
			return nil, err
		}
	}
	d.Store = store

	// Blob Storage.
	var svc *service.Client
	opts := &azureblob.Options{}
	switch {
	case cfg.StorageConnString != "":
		svc, err = service.NewClientFromConnectionString(cfg.StorageConnString, nil)
		if err != nil {
			return nil, fmt.Errorf("config: FACET_STORAGE_CONNECTION_STRING: %w", err)
		}
		name, key := connField(cfg.StorageConnString, "AccountName"), connField(cfg.StorageConnString, "AccountKey")
		if opts.SharedKey, err = azblob.NewSharedKeyCredential(name, key); err != nil {
			return nil, fmt.Errorf("config: FACET_STORAGE_CONNECTION_STRING: %w", err)
		}
		d.Account = name
	case cfg.StorageAccountURL != "":
		c, ierr := identity()
		if ierr != nil {
			return nil, ierr
		}
		if svc, err = service.NewClient(cfg.StorageAccountURL, c, nil); err != nil {
			return nil, fmt.Errorf("config: FACET_STORAGE_ACCOUNT_URL: %w", err)
		}
		opts.HTTPSOnly = true
		u, _ := url.Parse(cfg.StorageAccountURL)
		d.Account, _, _ = strings.Cut(u.Hostname(), ".")
	default:
		return nil, errors.New("config: set FACET_STORAGE_ACCOUNT_URL (Azure) or FACET_STORAGE_CONNECTION_STRING (local)")
	}
	opts.CreateWrites = cfg.UploadCreateWrite
	if u, err := url.Parse(svc.URL()); err == nil {
		d.BlobOrigin = u.Scheme + "://" + u.Host
	}
	blobs := azureblob.New(svc, app.UploadsContainer, opts)
	if cfg.CreateResources {
		if err := blobs.EnsureContainer(ctx); err != nil {
			return nil, err
		}
	}
	d.Blobs = blobs

	// Service Bus.
	var sbc *azservicebus.Client
	switch {
	case cfg.ServiceBusConn != "":
		sbc, err = azservicebus.NewClientFromConnectionString(cfg.ServiceBusConn, nil)
	case cfg.ServiceBusFQDN != "":
		c, ierr := identity()
		if ierr != nil {
			return nil, ierr
		}
		sbc, err = azservicebus.NewClient(cfg.ServiceBusFQDN, c, nil)
	default:
		return nil, errors.New("config: set ServiceBusConnection__fullyQualifiedNamespace (Azure) or ServiceBusConnection (local)")
	}
	if err != nil {
		return nil, fmt.Errorf("service bus: %w", err)
	}
	d.Bus = servicebus.New(sbc, nil)
	d.shutdown = append(d.shutdown, func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.Bus.Close(cctx)
	})

	d.Engine = newEngine(cfg)
	d.shutdown = append(d.shutdown, func() { d.Engine.Close() })
	staging, cleanup, err := stagingDir(cfg.TempDir)
	if err != nil {
		return nil, err
	}
	d.shutdown = append(d.shutdown, cleanup)
	d.App = app.New(app.Config{
		PublicBaseURL: cfg.PublicBaseURL, StorageAccount: d.Account, UploadTTL: cfg.UploadTTL, TempDir: staging,
		OrphanShareMax: cfg.OrphanShareMax, WebhookAllowLocal: cfg.WebhookAllowLocal,
		Limits: app.Limits{RunningAnalyses: cfg.LimitRunning, ReanalysesPerHour: cfg.LimitReanalyses,
			InvitationsPerDay: cfg.LimitInvitations, OpenUploadSlots: cfg.LimitOpenUploads},
	}, d.Store, d.Blobs, d.Bus, d.Engine, log)
	d.App.Hooks = httphook.New(&httphook.Options{AllowLocal: cfg.WebhookAllowLocal})
	d.App.Mail = mail
	d.App.Media = mediaProber{ffmpeg: cfg.FFmpeg, ffprobe: cfg.FFprobe}
	return d, nil
}

// connField returns one field of a storage connection string.
func connField(cs, name string) string {
	for _, part := range strings.Split(cs, ";") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// cmdServe runs the custom handler until ctx ends, then shuts down
// gracefully. It prints the address it listens on.
func cmdServe(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return usagef("serve takes no arguments (configuration comes from the environment)")
	}
	log := newLogger(cfg, stderr)
	d, err := wire(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	h := &handlers.Handler{App: d.App, AdminKey: cfg.AdminKey, UploadOrigin: d.BlobOrigin, Log: log, APIDocs: apiDocs(log)}
	return serveHTTP(ctx, "127.0.0.1:"+strconv.Itoa(cfg.Port), h.ServeMux(), stdout, log)
}

// apiDocs returns the folder of the API reference's script
// (handlers.APIDocsScript): apidocs/ beside the binary in a deployed
// package, else .cache/apidocs/ in the project, where `make setup` puts
// it. Without it the handler still serves the API, and /api/docs says
// the reference is not installed.
func apiDocs(log *slog.Logger) fs.FS {
	p := find(searchRoots(), "apidocs/"+handlers.APIDocsScript, ".cache/apidocs/"+handlers.APIDocsScript)
	if _, err := os.Stat(p); err != nil {
		log.Warn("API reference not installed: GET /api/docs answers 503 (make setup installs its script, make package ships it)", "error", err)
	}
	return os.DirFS(filepath.Dir(p))
}

// serveHTTP serves handler on addr until ctx ends. Its timeouts sit above
// host.json's functionTimeout (30 min), so the host, not this server,
// decides when an invocation has taken too long.
func serveHTTP(ctx context.Context, addr string, handler http.Handler, stdout io.Writer, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      35 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "facet: listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	return nil
}
