package testenv

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/humaninsight/facet/internal/localstack"
)

// OAuthBlob is an Azurite that accepts Entra ID bearer tokens, with a
// token server to get them from, so tests can sign user-delegation SAS
// as production does (the production account has no shared key).
type OAuthBlob struct {
	// URL is the account's endpoint in product style,
	// https://devstoreaccount1.blob.localhost:PORT: with an IP-style URL
	// the SDK would sign delegation SAS for an account named "127".
	URL string
	// Client reaches both servers: it dials 127.0.0.1 whatever the host
	// name and trusts their certificate. Pass it as the SDK's transport
	// and to anything that sends plain HTTP to signed URLs.
	Client *http.Client
	// AuthorityHost is the token server, for azidentity's
	// cloud.Configuration.ActiveDirectoryAuthorityHost (with
	// DisableInstanceDiscovery set).
	AuthorityHost string
	// Any ClientSecretCredential with these three gets a token.
	TenantID, ClientID, ClientSecret string
}

// AzuriteOAuth starts an Azurite in OAuth mode (--oauth basic over HTTPS
// with a certificate made here) and a token server whose tokens Azurite's
// basic mode accepts: it checks issuer, audience and times, not the
// signature. Both stop when t ends; each call starts its own pair (under
// a second), so tests cannot see each other's data. It skips when Azurite
// is not installed (fails under FACET_REQUIRE_INTEGRATION=1).
func AzuriteOAuth(t testing.TB) OAuthBlob {
	t.Helper()
	bin := AzuriteBin()
	if _, err := os.Stat(bin); err != nil {
		Skip(t, "azurite is not installed (run `make setup`)")
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pair, roots, err := writeTestCert(certFile, keyFile)
	if err != nil {
		t.Fatalf("testenv: test certificate: %v", err)
	}
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if err := startAzuriteOAuth(t, bin, port, certFile, keyFile, filepath.Join(dir, "data")); err != nil {
		Skip(t, err.Error())
	}

	ob := OAuthBlob{
		URL: fmt.Sprintf("https://%s.blob.localhost:%d", AzuriteAccount, port),
		Client: &http.Client{
			Timeout: 2 * time.Minute,
			Transport: &http.Transport{
				DialContext:     dialLoopback,
				TLSClientConfig: &tls.Config{RootCAs: roots},
			},
		},
		TenantID:     "72f988bf-86f1-41af-91ab-2d7cd011db47",
		ClientID:     "0b5e4c8a-6a43-4f4a-9c0e-3f2d1b7e9a10",
		ClientSecret: "facet-test-secret",
	}
	ts := httptest.NewUnstartedServer(tokenHandler(ob))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	ob.AuthorityHost = ts.URL + "/"
	return ob
}

// startAzuriteOAuth runs Azurite until t ends and waits for its port.
// (localstack starts only the plain-HTTP Azurite.) The child also dies
// with the test binary (Pdeathsig) if the binary crashes.
func startAzuriteOAuth(t testing.TB, bin string, port int, certFile, keyFile, dataDir string) error {
	cmd := exec.Command(bin, "--oauth", "basic", "--cert", certFile, "--key", keyFile,
		"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port), "--location", dataDir,
		"--skipApiVersionCheck", "--loose", "--disableTelemetry")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out // read only after Wait
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start azurite in OAuth mode: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("azurite in OAuth mode exited: %s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("azurite in OAuth mode did not open port %d in 30 s", port)
}

// dialLoopback sends every host to 127.0.0.1, so product-style host names
// (account.blob.localhost) reach the local servers without DNS.
func dialLoopback(ctx context.Context, network, addr string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
}

// tokenHandler answers the two requests MSAL (under azidentity's
// ClientSecretCredential) makes once instance discovery is off: the
// tenant's OpenID configuration and the client-credentials grant.
func tokenHandler(ob OAuthBlob) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		base := "https://" + r.Host + "/" + r.PathValue("tenant")
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                 base + "/v2.0", // MSAL checks it matches the authority's host
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
		})
	})
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("tenant") != ob.TenantID || r.PostFormValue("grant_type") != "client_credentials" ||
			r.PostFormValue("client_id") != ob.ClientID || r.PostFormValue("client_secret") != ob.ClientSecret {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"token_type":     "Bearer",
			"expires_in":     3600,
			"ext_expires_in": 3600,
			"access_token":   storageToken(ob.TenantID, ob.ClientID, time.Now()),
		})
	})
	return mux
}

// storageToken returns a JWT with the claims Azurite's basic OAuth mode
// checks (iss from sts.windows.net, aud storage.azure.com, iat/nbf/exp).
// Its signature is a placeholder: basic mode only decodes the token.
func storageToken(tenant, client string, now time.Time) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	header := enc(map[string]string{"alg": "RS256", "typ": "JWT"})
	claims := enc(map[string]any{
		"aud":   "https://storage.azure.com",
		"iss":   "https://sts.windows.net/" + tenant + "/",
		"iat":   now.Add(-time.Minute).Unix(),
		"nbf":   now.Add(-time.Minute).Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"tid":   tenant,
		"appid": client,
		"oid":   client,
		"sub":   client,
	})
	return header + "." + claims + "." + base64.RawURLEncoding.EncodeToString([]byte("unsigned"))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeTestCert makes a self-signed certificate for 127.0.0.1, localhost
// and *.blob.localhost, writes it and its key as PEM for Azurite, and
// returns it for the token server and a pool that trusts it.
func writeTestCert(certFile, keyFile string) (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "facet test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost", "*.blob.localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return tls.Certificate{}, nil, err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return pair, roots, nil
}
