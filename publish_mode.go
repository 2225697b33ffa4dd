package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"seedpod/pod"
	"seedpod/pod/datadir"
	"seedpod/pod/drafts"
)

// publishWait is how long `seedpod publish` waits for a running Seedpod to
// take a handed-over file (it reads the folder after a quiet moment; a
// busy pod or large photos take longer).
const publishWait = 15 * time.Second

// publishMain is `seedpod publish [--data DIR] [--drafts DIR] [--wait D]
// FILE`: publish a draft file as a post. The post is queued in the outbox
// and federates when a relay is reachable, so it works offline. A file in
// the drafts folder moves to its Published/ folder; a file elsewhere stays.
//
// When no Seedpod runs, the command opens the pod itself. When one runs
// (the data directory is locked), it hands the file to it through the
// drafts folder and waits for the answer. Exit 0 published, 1 not
// published (the reason on stderr; the file is unchanged), 2 usage.
func publishMain(args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	data := fs.String("data", "", "data directory")
	folderFlag := fs.String("drafts", "", "drafts folder (default: the file's folder when it is one, else ~/Seedpod/Drafts)")
	wait := fs.Duration("wait", publishWait, "how long to wait for a running Seedpod")
	file, code, ok := parsePublishArgs(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if *wait <= 0 {
		return usageError(stderr, "publish: --wait must be positive")
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "seedpod publish: "+format+"\n", a...)
		return 1
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return fail("%s: %v", file, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return fail("%v", err)
	}
	if !fi.Mode().IsRegular() {
		return fail("%s is not a file", abs)
	}
	// Read it first: a broken file is reported the same whichever way
	// the file would go, and before anything is opened.
	b, err := readDraftFile(abs)
	if err != nil {
		return fail("%v", err)
	}
	if _, err := drafts.Parse(b); err != nil {
		return fail("%s: %v; nothing was published", abs, err)
	}
	folder, err := publishFolder(*folderFlag, abs)
	if err != nil {
		return fail("%v", err)
	}
	// A pod to publish from must exist: this command does not make one.
	dataDir := *data
	if dataDir == "" {
		if dataDir, err = datadir.Default(os.Getenv); err != nil {
			return fail("%v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, pod.DatabaseName)); err != nil {
		return fail("there is no Seedpod in %s (%v); open Seedpod once and create your identity, or name the data directory with --data", dataDir, err)
	}

	// Ctrl-C while waiting for a running Seedpod withdraws the hand-over,
	// so the file is not published later behind the user's back.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := pod.Open(ctx, pod.Config{DataDir: dataDir, Version: versionString(), Logger: log})
	if errors.Is(err, datadir.ErrLocked) {
		res, err := drafts.Handover(ctx, folder, abs, *wait)
		if err != nil {
			if errors.Is(err, drafts.ErrNotWatched) {
				return fail("Seedpod is running, but it does not watch the drafts folder %s: %v.\n"+
					"Publish from the app, or run Seedpod with that drafts folder", folder, err)
			}
			return fail("the running Seedpod did not publish %s: %v", abs, err)
		}
		reportPublished(stdout, res, "the running Seedpod")
		return 0
	}
	if err != nil {
		return fail("%v", err)
	}
	defer p.Close()
	res, err := p.PublishDraftFile(ctx, folder, abs)
	if err != nil {
		if errors.Is(err, datadir.ErrLocked) {
			return fail("the drafts folder %s is watched by another Seedpod (with another data directory); nothing was published", folder)
		}
		return fail("%s: %v; nothing was published", abs, err)
	}
	reportPublished(stdout, res, "")
	return 0
}

// readDraftFile reads at most a draft file's size and one byte more (Parse
// refuses that).
func readDraftFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, drafts.MaxFileSize+1))
}

// parsePublishArgs takes the flags before and after FILE.
func parsePublishArgs(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (file string, code int, ok bool) {
	fs.SetOutput(io.Discard)
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, usage)
				return "", 0, false
			}
			return "", usageError(stderr, err.Error()), false
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch len(files) {
	case 0:
		return "", usageError(stderr, "publish: which file? seedpod publish FILE"), false
	case 1:
		return files[0], 0, true
	}
	return "", usageError(stderr, fmt.Sprintf("publish: one file at a time (got %q and %q)", files[0], files[1])), false
}

// publishFolder is the drafts folder: the flag, else the file's own folder
// when it is a drafts folder (it has a .seedpod), else the default.
func publishFolder(flagValue, abs string) (string, error) {
	if flagValue != "" {
		return filepath.Abs(flagValue)
	}
	dir := filepath.Dir(abs)
	if fi, err := os.Stat(filepath.Join(dir, drafts.MetaDir)); err == nil && fi.IsDir() {
		return dir, nil
	}
	return drafts.DefaultFolder(os.Getenv)
}

// reportPublished tells what was published, to whom, and where the file is.
func reportPublished(w io.Writer, res drafts.Result, via string) {
	audience := "public"
	if !res.Public {
		audience = "for " + strings.Join(res.Aspects, ", ")
	}
	var extras []string
	switch res.Photos {
	case 0:
	case 1:
		extras = append(extras, "1 photo")
	default:
		extras = append(extras, fmt.Sprintf("%d photos", res.Photos))
	}
	if res.Poll {
		extras = append(extras, "a poll")
	}
	what := audience
	if len(extras) > 0 {
		what += ", with " + strings.Join(extras, " and ")
	}
	by := ""
	if via != "" {
		by = " by " + via
	}
	fmt.Fprintf(w, "Published %s%s as post %s (%s).\n", filepath.Base(res.File), by, res.PostGUID, what)
	fmt.Fprintln(w, "It is queued in the outbox and goes out when the relay is reachable.")
	if res.MovedTo != "" {
		fmt.Fprintf(w, "The file moved to %s.\n", res.MovedTo)
	} else {
		fmt.Fprintf(w, "The file stays at %s (it is not in the drafts folder).\n", res.File)
	}
}
