package cosmosdb_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/cosmosdb"
	"github.com/humaninsight/facet/internal/porttest"
	"github.com/humaninsight/facet/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// newClient connects to endpoint with a key and few retries, so that a
// test against a dead endpoint fails fast.
func newClient(t *testing.T, endpoint, key string) *azcosmos.Client {
	t.Helper()
	cred, err := azcosmos.NewKeyCredential(key)
	if err != nil {
		t.Fatal(err)
	}
	client, err := azcosmos.NewClientWithKey(endpoint, cred, &azcosmos.ClientOptions{
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: 1, RetryDelay: 10 * time.Millisecond}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// openStore returns a Store on a new database of the Cosmos endpoint the
// environment names (or the local stand-in), dropped when the test ends.
func openStore(t *testing.T) *cosmosdb.Store {
	t.Helper()
	svc := testenv.CosmosService(t)
	if svc.Key == "" {
		testenv.Skip(t, "COSMOS_KEY is unset: these tests create a database, which Entra ID data-plane roles cannot")
	}
	client := newClient(t, svc.Endpoint, svc.Key)
	b := make([]byte, 6)
	rand.Read(b)
	name := "facettest-" + hex.EncodeToString(b)
	orderBy := map[string][]string{}
	for _, c := range facet.Containers {
		orderBy[c.Name] = porttest.DocStoreOrderBy
	}
	s := cosmosdb.New(client, name, &cosmosdb.Options{OrderBy: orderBy})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	start := time.Now()
	if err := s.EnsureContainers(ctx); err != nil {
		t.Fatalf("ensure containers: %v", err)
	}
	t.Logf("database %s with %d containers created in %v", name, len(facet.Containers), time.Since(start).Round(time.Millisecond))
	if err := s.EnsureContainers(ctx); err != nil {
		t.Fatalf("ensure containers again: %v", err)
	}
	t.Cleanup(func() {
		db, err := client.NewDatabase(name)
		if err == nil {
			_, err = db.Delete(context.Background(), nil)
		}
		if err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	return s
}

func TestDocStore(t *testing.T) {
	s := openStore(t)
	porttest.DocStore(t, func(*testing.T) facet.DocStore { return s })
}

// TestBadFieldNeedsNoService checks that a field name that could inject
// SQL is refused before anything is sent: the endpoint here is dead.
func TestBadFieldNeedsNoService(t *testing.T) {
	s := cosmosdb.New(newClient(t, "http://127.0.0.1:1/", "a2V5"), "db", nil)
	for _, q := range []facet.Query{
		{Where: map[string]any{`x"] = 1 OR c["y`: 1}},
		{Partition: "p", Where: map[string]any{"a.b": 1}},
		{Partition: "p", OrderBy: "n DESC, c._ts"},
		{Partition: "p", Where: map[string]any{"ok": []string{"x"}}},
	} {
		_, err := s.Query(t.Context(), facet.CRecordings, q)
		if facet.ErrorCode(err) != facet.EInvalid {
			t.Errorf("query %+v: %v, want invalid", q, err)
		}
	}
}

// TestUnreachable checks that a dead endpoint is EUnavailable, the code
// callers retry on, and that it comes quickly.
func TestUnreachable(t *testing.T) {
	s := cosmosdb.New(newClient(t, "http://127.0.0.1:1/", "a2V5"), "db", nil)
	ops := map[string]func(ctx context.Context) error{
		"create": func(ctx context.Context) error {
			_, err := s.Create(ctx, facet.CClients, "c1", []byte(`{"id":"c1"}`))
			return err
		},
		"read": func(ctx context.Context) error {
			_, err := s.Read(ctx, facet.CClients, "c1", "c1")
			return err
		},
		"query": func(ctx context.Context) error {
			_, err := s.Query(ctx, facet.CProjects, facet.Query{Partition: "c1"})
			return err
		},
		"scan": func(ctx context.Context) error {
			_, err := s.Query(ctx, facet.CProjects, facet.Query{})
			return err
		},
		"ensure": func(ctx context.Context) error { return s.EnsureContainers(ctx) },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			start := time.Now()
			err := op(ctx)
			took := time.Since(start)
			if facet.ErrorCode(err) != facet.EUnavailable {
				t.Errorf("%v (code %q), want unavailable", err, facet.ErrorCode(err))
			}
			if took > 20*time.Second {
				t.Errorf("took %v", took)
			}
			t.Logf("%v after %v", err, took.Round(time.Millisecond))
		})
	}
}
