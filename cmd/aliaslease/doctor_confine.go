package main

import (
	"context"

	"github.com/aliaslease/aliaslease/internal/confine"
	"github.com/aliaslease/aliaslease/internal/doctor"
	"github.com/aliaslease/aliaslease/internal/listeners"
)

// hostConfinements is doctor.Firewall over the host's firewall: the
// confinements in aliaslease's table, each with whether its cgroup lives.
type hostConfinements struct{}

// Confinements implements doctor.Firewall.
func (hostConfinements) Confinements() ([]doctor.Rules, error) {
	list, err := confine.HostFirewall().List()
	if err != nil {
		return nil, err
	}
	out := make([]doctor.Rules, len(list))
	for i, s := range list {
		exists, pop, err := confine.CgroupState(s.CgroupID)
		out[i] = doctor.Rules{CgroupID: s.CgroupID, Complete: s.Complete, Live: err == nil && exists && pop}
	}
	return out, nil
}

// Exposed implements doctor.Firewall: the host's sockets on 0.0.0.0 and
// ::, with their processes where they can be read.
func (hostConfinements) Exposed(ctx context.Context) ([]string, error) {
	socks, err := listeners.Bound(ctx, listeners.Wildcards)
	if err != nil {
		return nil, err
	}
	owners, _ := listeners.Owners(socks)
	out := make([]string, len(socks))
	for i, s := range socks {
		out[i] = s.String()
		if p, ok := owners[s.Inode]; ok && p.Command != "" {
			out[i] += " (" + escape(p.Command) + ")"
		}
	}
	return out, nil
}
