package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"seedpod/pod"
)

// devMain is `seedpod dev COMMAND`: tools for developers. `dev seed` fills
// a pod with generated people and posts for benchmarks and screenshots.
func devMain(args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	if len(args) == 0 || args[0] != "seed" {
		return usageError(stderr, "dev: the only command is `seed`")
	}
	fs := flag.NewFlagSet("dev seed", flag.ContinueOnError)
	data := fs.String("data", "", "data directory")
	posts := fs.Int("posts", 1000, "posts to generate")
	contacts := fs.Int("contacts", 100, "remote people to generate")
	seed := fs.Uint64("seed", 1, "random seed")
	keyBits := fs.Int("key-bits", pod.DefaultKeyBits, "identity key size if an identity is created")
	if code, ok := parseFlags(fs, args[1:], stdout, stderr); !ok {
		return code
	}
	if *posts < 0 || *contacts < 0 {
		return usageError(stderr, "dev seed: --posts and --contacts must not be negative")
	}
	ctx := context.Background()
	p, err := pod.Open(ctx, pod.Config{DataDir: *data, Version: versionString(), Logger: log, KeyBits: *keyBits})
	if err != nil {
		fmt.Fprintln(stderr, "seedpod dev seed:", err)
		return 1
	}
	defer p.Close()
	start := time.Now()
	last := time.Now()
	err = p.Seed(ctx, pod.SeedOptions{Posts: *posts, Contacts: *contacts, Seed: *seed, Progress: func(done, total int) {
		if time.Since(last) > 2*time.Second || done == total {
			last = time.Now()
			fmt.Fprintf(stderr, "seed: %d/%d posts (%.0f posts/s)\n", done, total, float64(done)/time.Since(start).Seconds())
		}
	}})
	if err != nil {
		fmt.Fprintln(stderr, "seedpod dev seed:", err)
		return 1
	}
	fmt.Fprintf(stdout, "seeded %d posts and %d contacts into %s in %s\n", *posts, *contacts, p.DataDir(), time.Since(start).Round(time.Millisecond))
	return 0
}
