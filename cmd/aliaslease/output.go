package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// listRow is what a list --format template sees of each row.
type listRow struct {
	Slug, Alias, State, Age, Holders string
	Generation                       uint64
	AcquiredAt, RenewedAt            time.Time
	Reason                           string
}

// object is the JSON shape of a lease, a list row or a gc line.
type object struct {
	Slug       *string    `json:"slug"`
	Alias      string     `json:"alias"`
	State      string     `json:"state,omitempty"`
	Generation uint64     `json:"generation,omitempty"`
	AcquiredAt *time.Time `json:"acquired_at,omitempty"`
	RenewedAt  *time.Time `json:"renewed_at,omitempty"`
	Holders    *[]holder  `json:"holders,omitempty"`
	Reason     string     `json:"reason,omitempty"`
}

type holder struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Slug  string `json:"slug,omitempty"`
	State string `json:"state"`
	Port  string `json:"port,omitempty"`
}

func leaseObject(l lease.Lease) object {
	slug := l.Slug
	acq, ren := l.AcquiredAt.UTC(), l.RenewedAt.UTC()
	return object{Slug: &slug, Alias: l.Alias.String(), Generation: l.Generation, AcquiredAt: &acq, RenewedAt: &ren}
}

func decisionObject(d lease.Decision, withHolders bool) object {
	o := object{Alias: d.Alias.String()}
	if d.Lease.Slug != "" {
		o = leaseObject(d.Lease)
	}
	o.State, o.Reason = string(d.State), string(d.Reason)
	if withHolders {
		hs := make([]holder, len(d.Holders))
		for i, h := range d.Holders {
			hs[i] = holder{ID: h.ID, Name: h.Name, Slug: h.Slug, State: h.State, Port: h.Port}
		}
		o.Holders = &hs
	}
	return o
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func holderNames(hs []lease.Holder) string {
	if len(hs) == 0 {
		return "-"
	}
	names := make([]string, len(hs))
	for i, h := range hs {
		names[i] = h.Name
	}
	return strings.Join(names, ",")
}

func humanAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
