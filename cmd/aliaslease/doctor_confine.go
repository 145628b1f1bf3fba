package main

import (
	"github.com/aliaslease/aliaslease/internal/confine"
	"github.com/aliaslease/aliaslease/internal/doctor"
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
