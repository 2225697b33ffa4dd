package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"seedpod/pod"
)

// refoldMain is `seedpod refold [--data DIR] [--check]`: rebuild every
// materialised table from the op log (after an upgrade, or to check that
// the tables match the ops). The pod must not be running: the data
// directory's lock says so.
func refoldMain(args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	fs := flag.NewFlagSet("refold", flag.ContinueOnError)
	data := fs.String("data", "", "data directory")
	check := fs.Bool("check", false, "also fold the ops in memory and compare; exit 1 on any difference")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	ctx := context.Background()
	p, err := pod.Open(ctx, pod.Config{DataDir: *data, Version: versionString(), Logger: log})
	if err != nil {
		fmt.Fprintln(stderr, "seedpod refold:", err)
		return 1
	}
	defer p.Close()
	last := -1
	rep, err := p.Refold(ctx, *check, func(done, total int) {
		if pct := done * 100 / max(total, 1); pct/10 != last/10 {
			last = pct
			fmt.Fprintf(stderr, "refold: %d/%d ops (%d%%)\n", done, total, pct)
		}
	})
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.Encode(rep)
	if err != nil {
		fmt.Fprintln(stderr, "seedpod refold:", err)
		return 1
	}
	if *check && rep.Before != rep.After {
		fmt.Fprintln(stderr, "seedpod refold: the tables had drifted from the ops; they are rebuilt now")
		return 1
	}
	return 0
}
