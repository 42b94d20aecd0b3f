package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Azurite's well-known development account.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
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
	procs    []*exec.Cmd
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
	for _, c := range procs {
		c.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			c.Process.Kill()
			<-done
		}
	}
	procs = nil
}

// ToolsDir is where `make setup` installs the project's Node tools and the
// copies of the shared stand-ins.
func ToolsDir() string { return filepath.Join(RepoRoot(), ".cache", "tools") }

// AzuriteBin is the Azurite launcher installed by `make setup`.
func AzuriteBin() string {
	return filepath.Join(RepoRoot(), "tools", "node_modules", ".bin", "azurite-blob")
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
	if err := startErr["azurite"]; err != nil {
		skipLocked(t, err.Error())
	}
	bin := AzuriteBin()
	if _, err := os.Stat(bin); err != nil {
		startErr["azurite"] = fmt.Errorf("no blob endpoint: AZURE_STORAGE_CONNECTION_STRING is unset and Azurite is not installed (run `make setup`)")
		skipLocked(t, startErr["azurite"].Error())
	}
	port := freePort(t)
	dir, err := os.MkdirTemp("", "facet-azurite-")
	if err != nil {
		t.Fatal(err)
	}
	if err := startLocked(t, "azurite", port, bin, "--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port),
		"--location", dir, "--skipApiVersionCheck", "--disableTelemetry", "--loose"); err != nil {
		startErr["azurite"] = err
		skipLocked(t, err.Error())
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/%s", port, AzuriteAccount)
	blob = &Blob{
		URL: url, Account: AzuriteAccount, Key: AzuriteKey, Started: true,
		ConnectionString: fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;", AzuriteAccount, AzuriteKey, url),
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
	if err := startErr["cosmos"]; err != nil {
		skipLocked(t, err.Error())
	}
	script := filepath.Join(ToolsDir(), "cosmos-standin", "cosmos-standin.js")
	if _, err := os.Stat(script); err != nil {
		startErr["cosmos"] = fmt.Errorf("no Cosmos endpoint: COSMOS_ENDPOINT is unset and the stand-in is not installed (run `make setup` with ../shared present)")
		skipLocked(t, startErr["cosmos"].Error())
	}
	port := freePort(t)
	if err := startLocked(t, "cosmos", port, "node", script, "--port", strconv.Itoa(port), "--host", "127.0.0.1", "--no-ssl"); err != nil {
		startErr["cosmos"] = err
		skipLocked(t, err.Error())
	}
	// Any base64 key works: the stand-in does not check auth.
	cosmos = &Cosmos{Endpoint: fmt.Sprintf("http://127.0.0.1:%d/", port), Key: "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==", Started: true}
	return *cosmos
}

// ServiceBusService returns SERVICEBUS_CONNECTION_STRING (real Azure or the
// official emulator), else starts the shared Service Bus stand-in once for
// this test binary (max delivery count 3 so dead-lettering is quick to
// test), else skips.
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
	if err := startErr["servicebus"]; err != nil {
		skipLocked(t, err.Error())
	}
	script := filepath.Join(ToolsDir(), "servicebus-standin", "sb-standin.js")
	if _, err := os.Stat(script); err != nil {
		startErr["servicebus"] = fmt.Errorf("no Service Bus endpoint: SERVICEBUS_CONNECTION_STRING is unset and the stand-in is not installed (run `make setup` with ../shared present)")
		skipLocked(t, startErr["servicebus"].Error())
	}
	port := freePort(t)
	if err := startLocked(t, "servicebus", port, "node", script, "--port", strconv.Itoa(port), "--host", "127.0.0.1", "--max-delivery", "3", "--lock-ms", "5000"); err != nil {
		startErr["servicebus"] = err
		skipLocked(t, err.Error())
	}
	sbConn = fmt.Sprintf("Endpoint=sb://127.0.0.1:%d;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;", port)
	return sbConn
}

func skipLocked(t testing.TB, reason string) {
	t.Helper()
	mu.Unlock()
	defer mu.Lock()
	Skip(t, reason)
}

// startLocked starts a service and waits until its port accepts
// connections. The child dies with the test binary (Pdeathsig), so a
// crashed test leaves nothing running.
func startLocked(t testing.TB, name string, port int, bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	var tail []string
	var tmu sync.Mutex
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			tmu.Lock()
			tail = append(tail, sc.Text())
			if len(tail) > 20 {
				tail = tail[1:]
			}
			tmu.Unlock()
		}
	}()
	procs = append(procs, cmd)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	tmu.Lock()
	defer tmu.Unlock()
	return fmt.Errorf("%s did not start on port %d: %v", name, port, tail)
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
