// Package verify checks from inside a bottle what it can reach: the host
// opens canaries (a TCP listener and a UDP socket on an ephemeral port of
// each address it names), a probe in the bottle connects to each and
// sends this run's nonce, and the verdict is the host's: which canaries
// received the nonce. A connection without it (another host process
// that happens on a canary) never counts.
//
// It is a configuration check with a cooperating probe, not a proof: a
// bottle that controls its probe can make it reach only its own alias.
package verify
