package p2p

import (
	"fmt"

	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
)

// startMDNS announces this host and browses for paired devices on the LAN.
func startMDNS(h *Host) (interface{ Close() error }, error) {
	s := mdns.NewMdnsService(h.h, MDNSService, &finder{h: h})
	if err := s.Start(); err != nil {
		return nil, fmt.Errorf("p2p: start mDNS %s: %w", MDNSService, err)
	}
	return s, nil
}
