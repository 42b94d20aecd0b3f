package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/handlers"
	"github.com/humaninsight/facet/internal/app"
	"github.com/humaninsight/facet/internal/devhost"
	"github.com/humaninsight/facet/internal/localstack"
)

// localHost is the handler and the host stand-in, running in-process.
type localHost struct {
	URL        string // the host stand-in: API and participant links
	HandlerURL string // the custom handler itself
	Deps       *deps
	Host       *devhost.Host
	servers    []*http.Server
	cancel     context.CancelFunc
	done       chan struct{}
}

// Close stops the host, the handler and the wired clients.
func (l *localHost) Close() {
	l.cancel()
	<-l.done
	for _, s := range l.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.Shutdown(ctx)
		cancel()
	}
	l.Deps.Close()
}

// startLocalHost wires the service from cfg, serves the handler on a free
// port and the host stand-in on hostAddr, and starts the triggers.
func startLocalHost(ctx context.Context, cfg config, root, hostAddr, blobURL string, timerEvery time.Duration, log *slog.Logger) (*localHost, error) {
	d, err := wire(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	l := &localHost{Deps: d, done: make(chan struct{})}
	h := &handlers.Handler{App: d.App, AdminKey: cfg.AdminKey, UploadOrigin: d.BlobOrigin, Log: log, APIDocs: apiDocs(log)}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		d.Close()
		return nil, err
	}
	l.HandlerURL = "http://" + hl.Addr().String()
	fns, err := devhost.LoadFunctions(filepath.Join(root, "functions"))
	if err != nil {
		hl.Close()
		d.Close()
		return nil, err
	}
	hj, err := devhost.ReadHostJSON(filepath.Join(root, "host.json"))
	if err != nil {
		hl.Close()
		d.Close()
		return nil, err
	}
	host, err := devhost.New(devhost.Config{
		HandlerURL: l.HandlerURL, Functions: fns, Blobs: d.Blobs, Container: app.UploadsContainer,
		Account: d.Account, BlobURL: blobURL, Receiver: d.Bus, Log: log, TimerEvery: timerEvery,
		MaxConcurrentCalls: hj.MaxConcurrentCalls,
	})
	if err != nil {
		hl.Close()
		d.Close()
		return nil, err
	}
	l.Host = host
	ll, err := net.Listen("tcp", hostAddr)
	if err != nil {
		hl.Close()
		d.Close()
		return nil, fmt.Errorf("dev: listen on %s: %w", hostAddr, err)
	}
	l.URL = "http://" + ll.Addr().String()
	if cfg.CreateResources {
		// The participant page (served here, or at the public base URL)
		// uploads straight to Azurite: allow its origin, as Bicep does in Azure.
		origins := []string{l.URL}
		if u, err := url.Parse(cfg.PublicBaseURL); err == nil && u.Host != "" && u.Scheme+"://"+u.Host != l.URL {
			origins = append(origins, u.Scheme+"://"+u.Host)
		}
		if err := d.Blobs.AllowBrowserUploads(ctx, origins...); err != nil {
			ll.Close()
			hl.Close()
			d.Close()
			return nil, err
		}
	}
	for _, srv := range []struct {
		ln net.Listener
		h  http.Handler
	}{{hl, h.ServeMux()}, {ll, host.Handler()}} {
		s := &http.Server{Handler: srv.h, ReadHeaderTimeout: 10 * time.Second}
		l.servers = append(l.servers, s)
		go s.Serve(srv.ln)
	}
	hctx, cancel := context.WithCancel(ctx)
	l.cancel = cancel
	go func() { host.Run(hctx); close(l.done) }()
	return l, nil
}

// projectRoot finds the checkout (go.mod) from the working directory or
// the executable.
func projectRoot() (string, error) {
	for _, r := range searchRoots() {
		if _, err := os.Stat(filepath.Join(r, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(r, "functions")); err == nil {
				return r, nil
			}
		}
	}
	return "", fmt.Errorf("dev: run it inside the facet checkout (no go.mod with functions/ found)")
}

// cmdDev runs the whole service locally: Azurite, the Cosmos DB and
// Service Bus stand-ins, the handler and the host stand-in, until ctx ends.
func cmdDev(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "127.0.0.1:7071", "where the API and participant links are served")
	blobPort := fs.Int("blob-port", 10000, "Azurite's port")
	cosmosPort := fs.Int("cosmos-port", 8081, "the Cosmos DB stand-in's port")
	sbPort := fs.Int("servicebus-port", 5672, "the Service Bus stand-in's port")
	sweepEvery := fs.Duration("sweep-every", time.Minute, "how often the host stand-in fires RetentionSweep (hourly in Azure)")
	if err := fs.Parse(args); err != nil {
		return usagef("dev: %v", err)
	}
	root, err := projectRoot()
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	paths := localstack.Paths{Root: root}
	dataDir, cleanData, err := devBlobDir(filepath.Join(root, ".cache", "dev", "azurite"))
	if err != nil {
		return err
	}
	defer cleanData()
	az, err := paths.Azurite(*blobPort, dataDir)
	if err != nil {
		return err
	}
	defer az.Stop()
	cs, err := paths.Cosmos(*cosmosPort)
	if err != nil {
		return err
	}
	defer cs.Stop()
	sb, err := paths.ServiceBus(*sbPort, 10, 5*time.Minute)
	if err != nil {
		return err
	}
	defer sb.Stop()

	cfg.StorageConnString = localstack.BlobConnectionString(az.Port)
	cfg.StorageAccountURL = ""
	cfg.CosmosEndpoint, cfg.CosmosKey = localstack.CosmosEndpoint(cs.Port), localstack.CosmosKey
	cfg.ServiceBusConn, cfg.ServiceBusFQDN = localstack.ServiceBusConnectionString(sb.Port), ""
	cfg.CreateResources = true
	cfg.UploadCreateWrite = true // Azurite refuses Put Block through a create-only link
	cfg.WebhookAllowLocal = true // receivers on this machine, over http
	if cfg.MailEndpoint == "" && cfg.MailOutbox == "" {
		cfg.MailOutbox = filepath.Join(root, ".cache", "outbox") // sign-up links are read from there
	}
	keyNote, err := devAdminKey(&cfg, filepath.Join(root, ".cache", "dev", "admin-key"))
	if err != nil {
		return err
	}
	if !strings.Contains(cfg.PublicBaseURL, "://") || cfg.PublicBaseURL == "http://127.0.0.1:7071" {
		cfg.PublicBaseURL = "http://" + *addr
	}
	blobURL := fmt.Sprintf("http://127.0.0.1:%d/%s", az.Port, localstack.AzuriteAccount)
	l, err := startLocalHost(ctx, cfg, root, *addr, blobURL, *sweepEvery, log)
	if err != nil {
		return err
	}
	defer l.Close()
	// The stack starts clean: its first operator is invited at once.
	opNote := "invite one with POST /api/operators/invitations (X-Admin-Key)"
	if inv, err := l.Deps.App.Invite(ctx, "", nil, devOperator, facet.RoleOperator); err == nil {
		opNote = "the sign-up link for " + inv.Email + " is in the mail below"
	}
	fmt.Fprintln(stdout, devCleanNote)
	fmt.Fprintf(stdout, `facet dev is running (Ctrl-C stops everything)
  API and participant links: %s
  portal:                    %s/app/ (operator: %s)
  API reference:             %s/api/docs
  custom handler:            %s
  Blob Storage (Azurite):    %s
  Cosmos DB stand-in:        %s
  Service Bus stand-in:      127.0.0.1:%d
  operator key (X-Admin-Key): %s
  mail:                      %s
`, l.URL, l.URL, opNote, l.URL, l.HandlerURL, blobURL, cfg.CosmosEndpoint, sb.Port, keyNote, mailNote(cfg))
	<-ctx.Done()
	fmt.Fprintln(stdout, "facet dev: stopping")
	return nil
}

// devOperator is the address `facet dev` invites as its first operator.
const devOperator = "operator@dev.example"

// devCleanNote is what `facet dev` says about its state.
const devCleanNote = "facet dev starts clean: the Cosmos DB and Service Bus stand-ins keep nothing, so neither does Azurite (blobs live in a folder of this run, removed when it stops and at the next start); clients, API keys, links and videos of an earlier run are gone"

// devBlobDir returns Azurite's data folder for this run,
// <base>/<pid>, created empty, and a cleanup that removes it. Everything
// else under base goes first (earlier runs' folders, and the blobs that
// older versions kept in base itself), except the folder of a `facet dev`
// still running: the Cosmos DB and Service Bus stand-ins keep nothing
// across a restart, and blobs kept without their metadata are videos
// no recording, key or audit entry accounts for.
func devBlobDir(base string) (dir string, cleanup func(), err error) {
	if dir, cleanup, err = pidDir(base, true); err != nil {
		return "", nil, fmt.Errorf("dev: azurite data: %w", err)
	}
	return dir, cleanup, nil
}

// devAdminKey makes sure the local stack has an operator key and says
// where it comes from, never what it is: output ends up in terminals,
// logs and screenshots. Without FACET_ADMIN_KEY a random key is made and
// written to file (mode 0600), where an operator reads it.
func devAdminKey(cfg *config, file string) (string, error) {
	if cfg.AdminKey != "" {
		return "from FACET_ADMIN_KEY", nil
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	cfg.AdminKey = "dev-" + hex.EncodeToString(b)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", fmt.Errorf("dev: admin key: %w", err)
	}
	if err := os.WriteFile(file, []byte(cfg.AdminKey+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("dev: admin key: %w", err)
	}
	if err := os.Chmod(file, 0o600); err != nil { // a file from an earlier run keeps its mode
		return "", fmt.Errorf("dev: admin key: %w", err)
	}
	return "generated for this run, in " + file + " (or set FACET_ADMIN_KEY)", nil
}
