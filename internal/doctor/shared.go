package doctor

import (
	"context"
	"errors"

	"github.com/aliaslease/aliaslease/lease"
)

// Shared is what the report says of the shared place that keeps several
// users' databases apart ("aliaslease share").
type Shared struct {
	Path   string `json:"path"`
	State  string `json:"state"` // none, not-member, ok, unsafe
	Note   string `json:"note"`
	Group  uint32 `json:"gid,omitempty"`
	Claims int    `json:"claims"`
	Others int    `json:"other_databases_claims"`
}

// notSeen is the note of a host without a shared place in use.
const notSeen = "other users' databases are not seen: their bottles are kept apart only by the holders they have (containers, listeners); run \"aliaslease share --group GROUP\" as root"

// shared examines the shared place: not set up, or this user not in its
// group, is said in its note (other users' databases are not seen: a
// host of one user needs no place, so it is no warning); a place
// refused, or an entry forged or planted, or a lease of this database
// whose alias another claims, is a problem.
func (r *Report) shared(ctx context.Context, cfg Config) {
	st, err := cfg.Manager.SharedReview(ctx)
	s := &r.Shared
	s.Path, s.State, s.Group, s.Claims, s.Others = st.Path, string(st.State), st.Group, st.Claims, st.Others
	switch {
	case err != nil && errors.Is(err, lease.ErrLocked):
		s.Note = "not checked: " + err.Error()
	case err != nil:
		s.Note = err.Error()
		r.problem("shared", "check the shared place and the database", "shared place %s: %v", st.Path, err)
	case st.State == lease.SharedNone:
		s.Note = "not set up: " + notSeen
	case st.State == lease.SharedNotMember:
		s.Note = "this user is not in its group: " + notSeen
	case st.State == lease.SharedUnsafe:
		s.Note = st.Err.Error()
		r.problem("shared", "remove it and run aliaslease share --group GROUP as root; until then acquire refuses (exit 8)", "%v", st.Err)
	default:
		s.Note = "in use: every lease claims its alias here"
	}
	for _, p := range st.Problems {
		r.problem("shared", "remove a planted or forged entry as root (aliaslease cleanup as root removes what is not a regular file); a lease without a claim is claimed again by gc", "%s", p)
	}
}
