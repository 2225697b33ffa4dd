package notify

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// The test rig: a real dbus-daemon on a socket in t.TempDir(), and a
// notification server (this test process) that owns
// org.freedesktop.Notifications on it and records every call.

// testBus is one dbus-daemon process.
type testBus struct {
	addr string
	cmd  *exec.Cmd
}

const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// startBus starts dbus-daemon listening on dir/bus; cleanup kills it.
func startBus(t *testing.T, dir string) *testBus {
	t.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Fatalf("these tests need dbus-daemon (Debian package dbus-daemon): %v", err)
	}
	sock := filepath.Join(dir, "bus")
	os.Remove(sock) // a killed daemon leaves its socket behind
	conf := filepath.Join(dir, "session.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, busConfig, sock), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+conf, "--print-address=1", "--nofork")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// Its stderr (a warning about the fd limit when not root) stays out
	// of the test output.
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	b := &testBus{cmd: cmd}
	t.Cleanup(b.kill)
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case b.addr = <-line:
	case <-time.After(5 * time.Second):
		t.Fatal("dbus-daemon printed no address in 5 s")
	}
	if b.addr == "" {
		t.Fatal("dbus-daemon exited without an address")
	}
	return b
}

func (b *testBus) kill() {
	if b.cmd.ProcessState == nil {
		b.cmd.Process.Signal(syscall.SIGCONT)
		b.cmd.Process.Kill()
		b.cmd.Wait()
	}
}

// call is one Notify the server received.
type call struct {
	App      string
	Replaces uint32
	Icon     string
	Summary  string
	Body     string
	Actions  []string
	Hints    map[string]dbus.Variant
	Expire   int32
	ID       uint32
}

// server implements org.freedesktop.Notifications and records calls.
type server struct {
	conn *dbus.Conn
	caps []string

	mu     sync.Mutex
	next   uint32
	calls  []call
	closed []uint32
}

// startServer connects to the bus and takes the service's name.
func startServer(t *testing.T, addr string, caps ...string) *server {
	t.Helper()
	c, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("server: connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if caps == nil {
		caps = []string{"actions", "body", "body-markup"}
	}
	s := &server{conn: c, caps: caps}
	if err := c.Export(s, objPath, iface); err != nil {
		t.Fatal(err)
	}
	reply, err := c.RequestName(busName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("server: request name: %v %v", reply, err)
	}
	return s
}

func (s *server) Notify(app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, expire int32) (uint32, *dbus.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := replaces
	if id == 0 {
		s.next++
		id = s.next
	}
	s.calls = append(s.calls, call{app, replaces, icon, summary, body, actions, hints, expire, id})
	return id, nil
}

func (s *server) CloseNotification(id uint32) *dbus.Error {
	s.mu.Lock()
	s.closed = append(s.closed, id)
	s.mu.Unlock()
	// Reason 3: closed by a call to CloseNotification.
	s.conn.Emit(objPath, iface+".NotificationClosed", id, uint32(3))
	return nil
}

func (s *server) GetCapabilities() ([]string, *dbus.Error) { return s.caps, nil }

func (s *server) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "testd", "seedpod", "1.0", "1.2", nil
}

// click emits what a server sends when the user clicks notification id.
func (s *server) click(t *testing.T, id uint32, key string) {
	t.Helper()
	if err := s.conn.Emit(objPath, iface+".ActionInvoked", id, key); err != nil {
		t.Fatal(err)
	}
}

func (s *server) snapshot() ([]call, []uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]call(nil), s.calls...), append([]uint32(nil), s.closed...)
}

// waitCalls waits until the server has n calls.
func (s *server) waitCalls(t *testing.T, n int) []call {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		calls, _ := s.snapshot()
		if len(calls) >= n {
			return calls
		}
		if time.Now().After(deadline) {
			t.Fatalf("server got %d Notify calls, want %d: %+v", len(calls), n, calls)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
