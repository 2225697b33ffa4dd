package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"time"

	"seedpod/pod"
	"seedpod/pod/httpclient"
	"seedpod/pod/relayclient"
)

// testOutbound holds the hidden test-only flags that point outbound HTTP
// (relay deliveries, a pod's discovery, fetches and relay client) at
// loopback: every name resolves to 127.0.0.1, and a test CA is trusted.
// Never for production: they turn the SSRF guard off for loopback.
type testOutbound struct {
	loopback *bool
	ca       *string
}

func addTestOutboundFlags(fs *flag.FlagSet) testOutbound {
	return testOutbound{
		loopback: fs.Bool("test-outbound-loopback", false, ""),
		ca:       fs.String("test-outbound-ca", "", ""),
	}
}

// options returns base with the test allowances applied.
func (t testOutbound) options(base httpclient.Options) (httpclient.Options, error) {
	if *t.loopback {
		base.AllowLoopback = true
		base.Lookup = func(context.Context, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
	}
	if *t.ca != "" {
		pemBytes, err := os.ReadFile(*t.ca)
		if err != nil {
			return base, fmt.Errorf("--test-outbound-ca: %w", err)
		}
		base.RootCAs = x509.NewCertPool()
		if !base.RootCAs.AppendCertsFromPEM(pemBytes) {
			return base, errors.New("--test-outbound-ca: no certificate in the file")
		}
	}
	return base, nil
}

func (t testOutbound) on() bool { return *t.loopback || *t.ca != "" }

// federationConfig is the pod's federation set-up: production clients,
// or with the test allowances.
func federationConfig(t testOutbound, pollWait time.Duration) (*pod.FederationConfig, error) {
	out, err := t.options(httpclient.Options{Version: versionString(), NoRedirects: true})
	if err != nil {
		return nil, err
	}
	if pollWait <= 0 {
		pollWait = 25 * time.Second
	}
	rel, err := t.options(relayclient.HTTPOptions(httpclient.Options{Version: versionString(), NoRedirects: true, Timeout: pollWait + 30*time.Second}))
	if err != nil {
		return nil, err
	}
	return &pod.FederationConfig{Outbound: httpclient.New(out), Relay: httpclient.New(rel), PollWait: pollWait}, nil
}
