package testenv

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/humaninsight/facet/internal/localstack"
)

// Azurite's well-known development account.
const (
	AzuriteAccount = localstack.AzuriteAccount
	AzuriteKey     = localstack.AzuriteKey
)

// Blob says how to reach a Blob Storage endpoint.
type Blob struct {
	ConnectionString string // for azblob.NewClientFromConnectionString
	URL              string // the account's blob endpoint, e.g. http://127.0.0.1:10000/devstoreaccount1
	Account, Key     string // shared key (Azurite's well-known one locally)
	Started          bool   // an Azurite this test binary started
}

// Cosmos says how to reach a Cosmos DB endpoint.
type Cosmos struct {
	Endpoint string
	Key      string // "" = use an Entra ID credential
	Started  bool
}

var (
	mu       sync.Mutex
	started  []*localstack.Service
	blob     *Blob
	cosmos   *Cosmos
	sbConn   string
	startErr = map[string]error{}
)

// Main runs the tests of a package that uses the services below and stops
// the services it started. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	StopAll()
	return code
}

// StopAll stops every service this process started.
func StopAll() {
	mu.Lock()
	defer mu.Unlock()
	for _, s := range started {
		s.Stop()
	}
	started = nil
}

// Paths locates the installed tools.
func Paths() localstack.Paths { return localstack.Paths{Root: RepoRoot()} }

// AzuriteBin is the Azurite launcher installed by `make setup`.
func AzuriteBin() string { return Paths().AzuriteBin() }

// startOnce starts a service once per test binary, remembering a failure
// so that every later test skips (or fails) with the same reason.
func startOnce(t testing.TB, name string, fn func() (*localstack.Service, error)) *localstack.Service {
	t.Helper()
	if err := startErr[name]; err != nil {
		mu.Unlock()
		defer mu.Lock()
		Skip(t, err.Error())
	}
	s, err := fn()
	if err != nil {
		startErr[name] = fmt.Errorf("no %s endpoint configured, and the local stand-in did not start: %w", name, err)
		mu.Unlock()
		defer mu.Lock()
		Skip(t, startErr[name].Error())
	}
	started = append(started, s)
	return s
}

// BlobService returns the endpoint from AZURE_STORAGE_CONNECTION_STRING
// (real Azure or an Azurite you run), else starts Azurite once for this
// test binary, else skips (fails under FACET_REQUIRE_INTEGRATION=1).
func BlobService(t testing.TB) Blob {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if blob != nil {
		return *blob
	}
	if cs := os.Getenv("AZURE_STORAGE_CONNECTION_STRING"); cs != "" {
		blob = &Blob{ConnectionString: cs}
		return *blob
	}
	dir, err := os.MkdirTemp("", "facet-azurite-")
	if err != nil {
		t.Fatal(err)
	}
	s := startOnce(t, "blob", func() (*localstack.Service, error) { return Paths().Azurite(0, dir) })
	blob = &Blob{
		URL: fmt.Sprintf("http://127.0.0.1:%d/%s", s.Port, AzuriteAccount), Account: AzuriteAccount, Key: AzuriteKey,
		Started: true, ConnectionString: localstack.BlobConnectionString(s.Port),
	}
	return *blob
}

// CosmosService returns the endpoint from COSMOS_ENDPOINT (and COSMOS_KEY)
// — real Azure or the official emulator — else starts the shared Cosmos
// stand-in once for this test binary, else skips.
func CosmosService(t testing.TB) Cosmos {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if cosmos != nil {
		return *cosmos
	}
	if ep := os.Getenv("COSMOS_ENDPOINT"); ep != "" {
		cosmos = &Cosmos{Endpoint: ep, Key: os.Getenv("COSMOS_KEY")}
		return *cosmos
	}
	s := startOnce(t, "cosmos", func() (*localstack.Service, error) { return Paths().Cosmos(0) })
	cosmos = &Cosmos{Endpoint: localstack.CosmosEndpoint(s.Port), Key: localstack.CosmosKey, Started: true}
	return *cosmos
}

// ServiceBusService returns SERVICEBUS_CONNECTION_STRING (real Azure or the
// official emulator), else starts the shared Service Bus stand-in once for
// this test binary (max delivery count 3, 5 s locks, so redelivery and
// dead-lettering are quick to test), else skips.
func ServiceBusService(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if sbConn != "" {
		return sbConn
	}
	if cs := os.Getenv("SERVICEBUS_CONNECTION_STRING"); cs != "" {
		sbConn = cs
		return sbConn
	}
	s := startOnce(t, "servicebus", func() (*localstack.Service, error) { return Paths().ServiceBus(0, 3, 5*time.Second) })
	sbConn = localstack.ServiceBusConnectionString(s.Port)
	return sbConn
}
