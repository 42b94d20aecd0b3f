// Package localstack starts the local stand-ins of the Azure services:
// Azurite for Blob Storage, and the Cosmos DB and Service Bus stand-ins
// that `make setup` copies out of ../shared/tools. `facet dev` and the
// tests use it; it never runs in Azure.
package localstack

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
	"time"
)

// Azurite's well-known development account (public, documented by Microsoft).
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	// CosmosKey is any base64 key: the stand-in does not check auth.
	CosmosKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
)

// Service is a started stand-in.
type Service struct {
	Name string
	Port int
	cmd  *exec.Cmd
	mu   sync.Mutex
	tail []string
}

// Stop ends the service and waits for it.
func (s *Service) Stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// Paths says where the tools are installed (by `make setup`).
type Paths struct {
	Root string // the project's root
}

// AzuriteBin is the azurite-blob launcher.
func (p Paths) AzuriteBin() string {
	return filepath.Join(p.Root, "tools", "node_modules", ".bin", "azurite-blob")
}

// CosmosScript is the Cosmos stand-in's entry point.
func (p Paths) CosmosScript() string {
	return filepath.Join(p.Root, ".cache", "tools", "cosmos-standin", "cosmos-standin.js")
}

// ServiceBusScript is the Service Bus stand-in's entry point.
func (p Paths) ServiceBusScript() string {
	return filepath.Join(p.Root, ".cache", "tools", "servicebus-standin", "sb-standin.js")
}

// Azurite starts Azurite's blob service on port (0 = any free port) with
// its data in dir. cors, when not empty, is not needed: Azurite answers
// CORS preflights for any origin unless rules are set through the API.
func (p Paths) Azurite(port int, dir string) (*Service, error) {
	if _, err := os.Stat(p.AzuriteBin()); err != nil {
		return nil, fmt.Errorf("azurite is not installed (run `make setup`): %w", err)
	}
	return start("azurite", port, p.AzuriteBin(), func(port int) []string {
		return []string{"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port), "--location", dir,
			"--skipApiVersionCheck", "--disableTelemetry", "--loose"}
	})
}

// Cosmos starts the Cosmos DB stand-in (plain HTTP) on port.
func (p Paths) Cosmos(port int) (*Service, error) {
	if _, err := os.Stat(p.CosmosScript()); err != nil {
		return nil, fmt.Errorf("the Cosmos stand-in is not installed (run `make setup` with ../shared present): %w", err)
	}
	return start("cosmos", port, "node", func(port int) []string {
		return []string{p.CosmosScript(), "--port", strconv.Itoa(port), "--host", "127.0.0.1", "--no-ssl"}
	})
}

// ServiceBus starts the Service Bus stand-in on port with the given
// maximum delivery count and lock duration.
func (p Paths) ServiceBus(port, maxDelivery int, lock time.Duration) (*Service, error) {
	if _, err := os.Stat(p.ServiceBusScript()); err != nil {
		return nil, fmt.Errorf("the Service Bus stand-in is not installed (run `make setup` with ../shared present): %w", err)
	}
	return start("servicebus", port, "node", func(port int) []string {
		return []string{p.ServiceBusScript(), "--port", strconv.Itoa(port), "--host", "127.0.0.1",
			"--max-delivery", strconv.Itoa(maxDelivery), "--lock-ms", strconv.Itoa(int(lock.Milliseconds()))}
	})
}

// BlobConnectionString is Azurite's connection string on port.
func BlobConnectionString(port int) string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=http://127.0.0.1:%d/%s;",
		AzuriteAccount, AzuriteKey, port, AzuriteAccount)
}

// CosmosEndpoint is the stand-in's endpoint on port.
func CosmosEndpoint(port int) string { return fmt.Sprintf("http://127.0.0.1:%d/", port) }

// ServiceBusConnectionString is the stand-in's connection string on port,
// in the form the official emulator uses.
func ServiceBusConnectionString(port int) string {
	return fmt.Sprintf("Endpoint=sb://127.0.0.1:%d;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;", port)
}

// start runs bin with args(port) and waits until the port accepts
// connections. The child dies with this process (Pdeathsig), so a crash
// leaves nothing running.
func start(name string, port int, bin string, args func(int) []string) (*Service, error) {
	if port == 0 {
		var err error
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(bin, args(port)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &Service{Name: name, Port: port, cmd: cmd}
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.mu.Lock()
			s.tail = append(s.tail, sc.Text())
			if len(s.tail) > 20 {
				s.tail = s.tail[1:]
			}
			s.mu.Unlock()
		}
		close(exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-exited:
			deadline = time.Now()
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	return nil, fmt.Errorf("%s did not start on port %d: %v", name, port, s.tail)
}

// FreePort returns a TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
