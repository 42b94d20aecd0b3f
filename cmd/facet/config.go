package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"time"
)

// config is every setting the binary reads, all from the environment. The
// env tag names the variable; README's configuration table, the sample
// local.settings.json and the Bicep app settings list the same names (a
// test checks the first two, infra-lint the third).
type config struct {
	// Engine.
	ORTLib    string `env:"FACET_ORT_LIB"`    // libonnxruntime.so.1
	ModelsDir string `env:"FACET_MODELS_DIR"` // folder of <set>.json manifests
	FFmpeg    string `env:"FACET_FFMPEG"`     // ffmpeg program ("ffmpeg" from PATH)
	FFprobe   string `env:"FACET_FFPROBE"`    // ffprobe program
	Workers   int    `env:"FACET_WORKERS"`    // frames analysed at once by all runs (0 = cores)

	// Handler.
	Port          int    `env:"FUNCTIONS_CUSTOMHANDLER_PORT" azure:"-"` // set by the Functions host
	AdminKey      string `env:"FACET_ADMIN_KEY"`                        // operator key for POST /api/clients
	PublicBaseURL string `env:"FACET_PUBLIC_BASE_URL"`                  // base of participant links
	LogLevel      string `env:"FACET_LOG_LEVEL"`                        // debug, info, warn, error
	TempDir       string `env:"FACET_TEMP_DIR"`                         // where videos are staged

	// Backing services. Keys and connection strings are for local
	// stand-ins and emulators only; in Azure the managed identity is used.
	CosmosEndpoint    string        `env:"COSMOS_ENDPOINT"`
	CosmosKey         string        `env:"COSMOS_KEY" azure:"-"`
	CosmosDatabase    string        `env:"COSMOS_DATABASE"`
	StorageAccountURL string        `env:"FACET_STORAGE_ACCOUNT_URL"`                 // https://<account>.blob.core.windows.net
	StorageConnString string        `env:"FACET_STORAGE_CONNECTION_STRING" azure:"-"` // local: Azurite
	ServiceBusConn    string        `env:"ServiceBusConnection" azure:"-"`            // local: stand-in or emulator
	ServiceBusFQDN    string        `env:"ServiceBusConnection__fullyQualifiedNamespace"`
	CreateResources   bool          `env:"FACET_CREATE_RESOURCES" azure:"-"`    // create database, containers, blob container (local only)
	UploadTTL         time.Duration `env:"FACET_UPLOAD_TTL"`                    // upload link lifetime (default 2h)
	UploadCreateWrite bool          `env:"FACET_UPLOAD_CREATE_WRITE" azure:"-"` // local only: sign upload links "cw" (Azurite refuses blocks via "c")
	OrphanShareMax    float64       `env:"FACET_ORPHAN_SHARE_MAX"`              // share of all blobs the sweep may delete as orphans (default 0.1)
	WebhookAllowLocal bool          `env:"FACET_WEBHOOK_ALLOW_LOCAL" azure:"-"` // local only: webhooks may use http on 127.0.0.1 / localhost

	// Mail (sign-up and invitation links): Azure Communication Services
	// with the managed identity, or locally a folder the mails go to.
	MailEndpoint string `env:"FACET_MAIL_ENDPOINT"`         // https://<resource>.communication.azure.com
	MailSender   string `env:"FACET_MAIL_SENDER"`           // DoNotReply@<guid>.azurecomms.net
	MailOutbox   string `env:"FACET_MAIL_OUTBOX" azure:"-"` // local only: write each mail as a JSON file there instead

	// Per-client limits (0 = app.DefaultLimits).
	LimitRunning     int `env:"FACET_LIMIT_RUNNING_ANALYSES"`    // analyses of one client running at once
	LimitReanalyses  int `env:"FACET_LIMIT_REANALYSES_PER_HOUR"` // re-analyses per client and hour
	LimitInvitations int `env:"FACET_LIMIT_INVITATIONS_PER_DAY"` // invitations per project and day
	LimitOpenUploads int `env:"FACET_LIMIT_OPEN_UPLOADS"`        // upload slots of one client awaiting their upload
}

// configVars lists every variable config reads.
func configVars() []string {
	var names []string
	t := reflect.TypeOf(config{})
	for i := range t.NumField() {
		names = append(names, t.Field(i).Tag.Get("env"))
	}
	return names
}

// azureVars lists the variables the deployment must set (or leave to a
// documented default) and localVars those it must never set: keys,
// connection strings and local switches (tag azure:"-"), or what the
// Functions host sets itself.
func azureVars() (azure, local []string) {
	t := reflect.TypeOf(config{})
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("azure") == "-" {
			local = append(local, f.Tag.Get("env"))
		} else {
			azure = append(azure, f.Tag.Get("env"))
		}
	}
	return azure, local
}

// loadConfig reads the environment. Paths left unset are searched for in
// the places `make setup` and `make package` put things: beside the
// executable (a deployed app) and in the project around the working
// directory (a checkout).
func loadConfig(getenv func(string) string) (config, error) {
	var c config
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name := f.Tag.Get("env")
		s := getenv(name)
		if s == "" {
			continue
		}
		fv := v.Field(i)
		switch fv.Interface().(type) {
		case string:
			fv.SetString(s)
		case int:
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return c, fmt.Errorf("config: %s=%q: want a whole number >= 0", name, s)
			}
			fv.SetInt(int64(n))
		case bool:
			b, err := strconv.ParseBool(s)
			if err != nil {
				return c, fmt.Errorf("config: %s=%q: want true or false", name, s)
			}
			fv.SetBool(b)
		case float64:
			x, err := strconv.ParseFloat(s, 64)
			if err != nil || !(x > 0 && x <= 1) {
				return c, fmt.Errorf("config: %s=%q: want a share above 0 and at most 1, such as 0.1", name, s)
			}
			fv.SetFloat(x)
		case time.Duration:
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return c, fmt.Errorf("config: %s=%q: want a duration such as 2h", name, s)
			}
			fv.SetInt(int64(d))
		}
	}
	roots := searchRoots()
	if c.ORTLib == "" {
		c.ORTLib = find(roots, "lib/libonnxruntime.so.1", ".cache/lib/libonnxruntime.so.1")
	}
	if c.ModelsDir == "" {
		c.ModelsDir = filepath.Dir(find(roots, "models/default.json"))
	}
	// A deployed package ships static tools in bin/ beside the binary.
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		for _, t := range []struct {
			v    *string
			name string
		}{{&c.FFmpeg, "ffmpeg"}, {&c.FFprobe, "ffprobe"}} {
			if p := filepath.Join(dir, "bin", t.name); *t.v == "" {
				if _, err := os.Stat(p); err == nil {
					*t.v = p
				}
			}
		}
	}
	if c.CosmosDatabase == "" {
		c.CosmosDatabase = "facet"
	}
	if c.PublicBaseURL == "" {
		c.PublicBaseURL = "http://127.0.0.1:7071"
	}
	return c, nil
}

// searchRoots lists the executable's folder and its parent, then the
// working directory and its parents.
func searchRoots() []string {
	var roots []string
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			roots = append(roots, filepath.Dir(exe), filepath.Dir(filepath.Dir(exe)))
		}
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			roots = append(roots, d)
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return roots
}

// find returns the first root/rel that exists, or the first candidate
// under the first root so that errors name a sensible path.
func find(roots []string, rels ...string) string {
	for _, r := range roots {
		for _, rel := range rels {
			p := filepath.Join(r, rel)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if len(roots) == 0 {
		return rels[0]
	}
	return filepath.Join(roots[0], rels[0])
}
