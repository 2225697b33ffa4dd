package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/podtest/podnet"
	"seedpod/pod/web"
)

// A laptop joins a desktop that holds thousands of ops and is killed
// with kill -9 three times in the middle of its initial sync, restarting
// each time on the same data directory: it ends with exactly the
// desktop's logs (same heads, same op count, same posts) — nothing lost,
// nothing applied twice. Both are real `seedpod serve` processes syncing
// over libp2p on loopback.
func TestSyncSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts seedpod processes")
	}
	root := t.TempDir()
	desktopData, laptopData := filepath.Join(root, "desktop"), filepath.Join(root, "laptop")
	seed := exec.Command(os.Args[0], "dev", "seed", "--data", desktopData, "--posts", "6000", "--contacts", "60", "--key-bits", "1024")
	seed.Env = append(os.Environ(), "SEEDPOD_TEST_MAIN=1", "SEEDPOD_LOG=warn")
	if out, err := seed.CombinedOutput(); err != nil {
		t.Fatalf("dev seed: %v\n%s", err, out)
	}
	logs := &lockedBuffer{}
	defer func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.tail(80))
		}
	}()
	flags := []string{"--drafts", "off", "--p2p-listen", "/ip4/127.0.0.1/tcp/0", "--mdns=false", "--test-key-bits", "1024"}
	desktop := startServeProcess(t, desktopData, logs, flags...)
	var code pod.PairingCode
	if _, err := desktop.call("POST", web.APIPrefix+"/devices/pair", nil, &code); err != nil {
		t.Fatal(err)
	}
	laptop := startServeProcess(t, laptopData, logs, flags...)
	if _, err := laptop.call("POST", web.APIPrefix+"/devices/join", map[string]string{"code": code.Code}, nil); err != nil {
		t.Fatal(err)
	}

	want := countOps(t, filepath.Join(desktopData, pod.DatabaseName))
	kills := 0
	for _, frac := range []float64{0.2, 0.45, 0.7} {
		podnet.Eventually(t, 60*time.Second, fmt.Sprintf("the laptop past %.0f%% of the history", frac*100), func() (bool, error) {
			return countOps(t, filepath.Join(laptopData, pod.DatabaseName)) >= int(frac*float64(want)), nil
		})
		if n := countOps(t, filepath.Join(laptopData, pod.DatabaseName)); n >= want {
			break // synced before the kill point: the machine was quick
		}
		laptop.kill()
		kills++
		laptop = startServeProcess(t, laptopData, logs, flags...)
	}
	if kills < 2 {
		t.Fatalf("only %d kills landed in the middle of the sync", kills)
	}
	podnet.Eventually(t, 120*time.Second, "both hold every op", func() (bool, error) {
		dh, _, _ := dbSummary(t, filepath.Join(desktopData, pod.DatabaseName))
		lh, _, _ := dbSummary(t, filepath.Join(laptopData, pod.DatabaseName))
		return dh == lh, nil
	})
	laptop.stop(t)
	desktop.stop(t)
	dh, dc, dp := dbSummary(t, filepath.Join(desktopData, pod.DatabaseName))
	lh, lc, lp := dbSummary(t, filepath.Join(laptopData, pod.DatabaseName))
	if dh != lh || dc != lc || dp != lp {
		t.Fatalf("after %d kills: desktop heads %q, %d ops, %d posts; laptop heads %q, %d ops, %d posts", kills, dh, dc, dp, lh, lc, lp)
	}
	t.Logf("%d ops synced across %d kill -9s; %d posts on both", lc, kills, lp)
}

// countOps counts the ops in a pod's database (read-only, beside
// the running process).
func countOps(t *testing.T, path string) int {
	db := openReadOnly(t, path)
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM ops").Scan(&n); err != nil {
		return 0 // not created yet
	}
	return n
}

// dbSummary is a stopped pod's heads, op count and post count.
func dbSummary(t *testing.T, path string) (heads string, ops, posts int) {
	db := openReadOnly(t, path)
	defer db.Close()
	rows, err := db.Query("SELECT hex(device), epoch, seq, hex(hash) FROM heads ORDER BY device, epoch")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var dev, hash string
		var epoch, seq int64
		if err := rows.Scan(&dev, &epoch, &seq, &hash); err != nil {
			t.Fatal(err)
		}
		heads += fmt.Sprintf("%s:%d:%d:%s ", dev[:8], epoch, seq, hash[:8])
	}
	for q, v := range map[string]*int{"SELECT count(*) FROM ops": &ops, "SELECT count(*) FROM posts": &posts} {
		if err := db.QueryRow(q).Scan(v); err != nil {
			t.Fatal(err)
		}
	}
	return heads, ops, posts
}
