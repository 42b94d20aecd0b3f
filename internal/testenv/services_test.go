package testenv

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestServicesStart(t *testing.T) {
	b := BlobService(t)
	if b.Started {
		// Azurite answers an unauthenticated request with an auth error,
		// which proves it is up.
		resp, err := http.Get(b.URL + "?comp=list")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("azurite: %s", resp.Status)
		}
	}
	c := CosmosService(t)
	if !strings.HasPrefix(c.Endpoint, "http") {
		t.Errorf("cosmos endpoint %q", c.Endpoint)
	}
	if sb := ServiceBusService(t); !strings.Contains(sb, "Endpoint=sb://") {
		t.Errorf("service bus %q", sb)
	}
}
