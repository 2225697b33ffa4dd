package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkServeRSS measures the memory of a real `seedpod serve` process
// over a pod seeded with SEEDPOD_BENCH_POSTS posts (default 100,000) and
// SEEDPOD_BENCH_CONTACTS contacts (default 1,000): it reads the stream,
// pages back, searches, then reports the resident set (VmRSS) and its peak
// (VmHWM) in MiB. The budget is 100 MiB at 100k posts / 1k contacts.
func BenchmarkServeRSS(b *testing.B) {
	posts, contacts := 100_000, 1000
	if v, err := strconv.Atoi(os.Getenv("SEEDPOD_BENCH_POSTS")); err == nil && v > 0 {
		posts = v
	}
	if v, err := strconv.Atoi(os.Getenv("SEEDPOD_BENCH_CONTACTS")); err == nil && v > 0 {
		contacts = v
	}
	data := filepath.Join(b.TempDir(), "data")
	seed := exec.Command(os.Args[0], "dev", "seed", "--data", data, "--posts", fmt.Sprint(posts),
		"--contacts", fmt.Sprint(contacts), "--key-bits", "1024")
	seed.Env = append(os.Environ(), "SEEDPOD_TEST_MAIN=1", "SEEDPOD_LOG=warn")
	if out, err := seed.CombinedOutput(); err != nil {
		b.Fatalf("seed: %v\n%s", err, out)
	}
	var rss, hwm float64
	for b.Loop() {
		rss, hwm = serveAndMeasure(b, data)
	}
	b.ReportMetric(rss, "rss-MiB")
	b.ReportMetric(hwm, "peak-rss-MiB")
	b.ReportMetric(float64(posts), "posts")
}

func serveAndMeasure(b *testing.B, data string) (rss, hwm float64) {
	cmd := exec.Command(os.Args[0], "serve", "--data", data, "--listen", "127.0.0.1:0", "--drafts", "off", "--p2p-listen", "off")
	cmd.Env = append(os.Environ(), "SEEDPOD_TEST_MAIN=1", "SEEDPOD_LOG=warn")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var login string
	sc := bufio.NewScanner(stdout)
	re := regexp.MustCompile(`(http://\S+/login\?token=\S+)`)
	for login == "" && sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			login = m[1]
		}
	}
	go io.Copy(io.Discard, stdout)
	if login == "" {
		b.Fatal("serve printed no login link")
	}
	base := login[:strings.Index(login, "/login")]
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(login)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	get := func(path string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for range 20 {
		get("/api/v1/streams/main?per_page=100")
		get("/api/seedpod/v1/streams/public?per_page=100")
		get("/api/seedpod/v1/search?q=garden&per_page=50")
		get("/api/v1/notifications?per_page=100")
		get("/api/v1/aspects")
		get("/api/v1/search/users?name_or_handle=user1")
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	field := func(name string) float64 {
		for _, l := range bytes.Split(st, []byte("\n")) {
			if f := strings.Fields(string(l)); len(f) >= 2 && f[0] == name+":" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
		b.Fatalf("no %s in /proc status", name)
		return 0
	}
	return field("VmRSS"), field("VmHWM")
}
