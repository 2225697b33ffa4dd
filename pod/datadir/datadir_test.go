package datadir

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The test binary doubles as a helper process: with SEEDPOD_TEST_HELPER set
// it runs the named role instead of the tests, so lock and permission checks
// are made against a real second process.
func TestMain(m *testing.M) {
	switch os.Getenv("SEEDPOD_TEST_HELPER") {
	case "hold":
		d, err := Open(os.Getenv("SEEDPOD_TEST_DIR"))
		if err != nil {
			os.Stdout.WriteString("error: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("locked\n")
		// Hold the lock until the parent closes our stdin.
		bufio.NewReader(os.Stdin).ReadString('\n')
		d.Close()
		os.Exit(0)
	case "open":
		_, err := Open(os.Getenv("SEEDPOD_TEST_DIR"))
		if errors.Is(err, ErrNotWritable) {
			os.Stdout.WriteString("not-writable: " + err.Error() + "\n")
			os.Exit(3)
		}
		if err != nil {
			os.Stdout.WriteString("error: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helper(t *testing.T, role, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SEEDPOD_TEST_HELPER="+role, "SEEDPOD_TEST_DIR="+dir)
	return cmd
}

func TestDefault(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"xdg set", map[string]string{"XDG_DATA_HOME": "/xdg", "HOME": "/home/a"}, "/xdg/seedpod"},
		{"xdg relative is ignored", map[string]string{"XDG_DATA_HOME": "rel", "HOME": "/home/a"}, "/home/a/.local/share/seedpod"},
		{"home only", map[string]string{"HOME": "/home/a"}, "/home/a/.local/share/seedpod"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Default(func(k string) string { return c.env[k] })
			if err != nil || got != c.want {
				t.Fatalf("Default() = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestOpenCreatesPrivateDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "seedpod")
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data dir mode = %v, want 0700", perm)
	}
	if d.Path() != path || d.Join("pod.db") != filepath.Join(path, "pod.db") {
		t.Errorf("Path() = %q, Join = %q", d.Path(), d.Join("pod.db"))
	}
	entries, _ := os.ReadDir(path)
	if len(entries) != 1 || entries[0].Name() != lockName {
		t.Errorf("data dir holds %v, want only the lock file", entries)
	}
}

func TestOpenRefusesAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	os.WriteFile(path, []byte("x"), 0o600)
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("Open(file) err = %v, want 'not a directory'", err)
	}
}

func TestSecondProcessIsRefused(t *testing.T) {
	dir := t.TempDir()
	cmd := helper(t, "hold", dir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("helper said %q, want locked", line)
	}

	_, err := Open(dir)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Open while another process holds it: err = %v, want ErrLocked", err)
	}
	if want := "held by PID " + strconv.Itoa(cmd.Process.Pid); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}

	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	// Released: we may take it now, and a second Open in this process is
	// refused as well.
	d, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after the holder exited: %v", err)
	}
	defer d.Close()
	if _, err := Open(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open in the same process: err = %v, want ErrLocked", err)
	}
}

// A crashed holder leaves its lock file behind but not its lock.
func TestLockDiesWithProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := helper(t, "hold", dir)
	stdout, _ := cmd.StdoutPipe()
	pr, pw, _ := os.Pipe()
	cmd.Stdin = pr
	defer pw.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	bufio.NewReader(stdout).ReadString('\n')
	cmd.Process.Kill()
	cmd.Wait()
	d, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after the holder was killed: %v", err)
	}
	d.Close()
}

func TestUnwritableDirIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir)
		if !errors.Is(err, ErrNotWritable) {
			t.Fatalf("Open(read-only dir) err = %v, want ErrNotWritable", err)
		}
		checkEmpty(t, dir)
		return
	}
	// Root writes anywhere, so run the check as an unprivileged user: a
	// copy of this test binary, readable by everyone, started as nobody.
	bin := filepath.Join(t.TempDir(), "helper")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for p := filepath.Dir(bin); p != "/"; p = filepath.Dir(p) {
		os.Chmod(p, 0o755) // t.TempDir parents are 0700
	}
	os.Chmod(filepath.Dir(dir), 0o755)
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = []string{"SEEDPOD_TEST_HELPER=open", "SEEDPOD_TEST_DIR=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("helper as nobody: err = %v, output %q; want exit 3 (ErrNotWritable)", err, out)
	}
	if !strings.Contains(string(out), dir) {
		t.Errorf("error %q does not name the directory", out)
	}
	checkEmpty(t, dir)
}

func checkEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("refused data dir was modified: it now holds %v", entries)
	}
}
