package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aliaslease/aliaslease/lease"
)

// object is the JSON shape of a lease, a list row or a gc line.
type object struct {
	Slug       *string    `json:"slug"`
	Alias      string     `json:"alias,omitempty"`
	Released   *bool      `json:"released,omitempty"`
	State      string     `json:"state,omitempty"`
	Generation uint64     `json:"generation,omitempty"`
	AcquiredAt *time.Time `json:"acquired_at,omitempty"`
	RenewedAt  *time.Time `json:"renewed_at,omitempty"`
	// HeldAt and VacantSince: when last seen live, since when found
	// vacant; left out when never.
	HeldAt      *time.Time `json:"held_at,omitempty"`
	VacantSince *time.Time `json:"vacant_since,omitempty"`
	Isolation   string     `json:"isolation,omitempty"` // list: see isolationOf
	// Confinements are the lease's confined live trees (list, inspect);
	// left out when none.
	Confinements []confinementObject `json:"confinements,omitempty"`
	Holders      *[]holder           `json:"holders,omitempty"`
	Reason       string              `json:"reason,omitempty"`
}

// holder is one container (or listener, or process tree) holding an
// alias, with every binding it publishes there.
type holder struct {
	Kind  string   `json:"kind"` // container, listener or process
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Slug  string   `json:"slug,omitempty"`
	State string   `json:"state"`
	Ports []string `json:"ports"`
}

// holderObjects groups the holders of one alias by container, keeping the order
// they came in.
func holderObjects(hs []lease.Holder) []holder {
	out := []holder{}
	at := map[string]int{}
	for _, h := range hs {
		i, seen := at[h.ID]
		if !seen {
			i = len(out)
			at[h.ID] = i
			out = append(out, holder{Kind: holderKind(h.Kind), ID: h.ID, Name: h.Name, Slug: h.Slug, State: h.State, Ports: []string{}})
		}
		if h.Port != "" {
			out[i].Ports = append(out[i].Ports, h.Port)
		}
	}
	return out
}

func leaseObject(l lease.Lease) object {
	slug := l.Slug
	acq, ren := l.AcquiredAt.UTC(), l.RenewedAt.UTC()
	return object{Slug: &slug, Alias: l.Alias.String(), Generation: l.Generation, AcquiredAt: &acq, RenewedAt: &ren}
}

// releaseObject is what release --json prints: the freed lease with
// "released": true, or, when nothing was released, why (no-lease,
// generation-mismatch) and the generation the slug holds, if any.
func releaseObject(slug string, l lease.Lease, why string) object {
	if why == "" {
		o := leaseObject(l)
		o.Released, o.State = ptr(true), "released"
		return o
	}
	return object{Slug: &slug, Released: ptr(false), Reason: why, Generation: l.Generation}
}

func ptr[T any](v T) *T { return &v }

// writeJSON writes v as indented JSON and a newline. Like every JSON
// aliaslease prints, it is for programs, not for an HTML page: <, > and
// & are written as they are, as jq and docker write them.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// marshalJSON is json.MarshalIndent (json.Marshal with no indent)
// without the escaping of <, > and &.
func marshalJSON(v any, prefix, indent string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent(prefix, indent)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// holderKind names a holder's kind as JSON does: a container's kind is
// the zero value in lease.
func holderKind(k lease.HolderKind) string {
	if k == lease.HolderContainer {
		return "container"
	}
	return string(k)
}

// holderNames names the holders of an alias, once each, with their
// state, for a table: "web(running),db(exited)", "-" for none.
func holderNames(hs []lease.Holder) string {
	if len(hs) == 0 {
		return "-"
	}
	gs := holderObjects(hs)
	names := make([]string, len(gs))
	for i, h := range gs {
		names[i] = escape(h.Name)
		if h.State != "" {
			names[i] += "(" + escape(h.State) + ")"
		}
	}
	return strings.Join(names, ",")
}

// escape makes a string from outside (a container name or label, a
// daemon's message, a path, an environment value, database contents)
// safe for a terminal: control characters (C0, DEL, C1), line separators
// and invalid UTF-8 are written as Go escapes, so no escape sequence
// reaches the terminal raw and every error stays one line.
func escape(s string) string {
	printable := true // the common case, checked a byte at a time
	for i := 0; i < len(s) && printable; i++ {
		printable = s[i] >= 0x20 && s[i] < 0x7f
	}
	if printable {
		return s
	}
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// appendAge appends an age as people read it: whole seconds below a
// minute, minutes below an hour, hours below two days, then days.
func appendAge(dst []byte, d time.Duration) []byte {
	n, unit := int64(0), byte('s')
	switch {
	case d < 0:
	case d < time.Minute:
		n = int64(d / time.Second)
	case d < time.Hour:
		n, unit = int64(d/time.Minute), 'm'
	case d < 48*time.Hour:
		n, unit = int64(d/time.Hour), 'h'
	default:
		n, unit = int64(d/(24*time.Hour)), 'd'
	}
	return append(strconv.AppendInt(dst, n, 10), unit)
}

// say prints a note or warning on stderr as one escaped line.
func say(w io.Writer, kind, format string, a ...any) {
	fmt.Fprintf(w, "aliaslease: %s: %s\n", kind, escape(fmt.Sprintf(format, a...)))
}

// writeAtomically replaces path with data through a temporary file in
// the same directory and a rename, so that no reader (node_exporter, for
// metrics --textfile; systemd or launchd, for share's boot configuration)
// ever reads a half-written file. The file is world-readable, as such a
// reader is often another user.
func writeAtomically(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
