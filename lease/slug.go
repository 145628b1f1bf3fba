package lease

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// MaxSlugLen is the longest slug accepted.
const MaxSlugLen = 128

// ValidateSlug reports whether s is a valid slug: 1-128 characters of
// A-Z a-z 0-9 . _ -, starting with a letter or a digit. The error wraps
// ErrInvalidSlug and names the first offending character.
func ValidateSlug(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrInvalidSlug)
	}
	if len(s) > MaxSlugLen {
		return fmt.Errorf("%w: %d characters, at most %d allowed", ErrInvalidSlug, len(s), MaxSlugLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		switch {
		case alnum:
		case i == 0:
			return fmt.Errorf("%w: %q must start with A-Z a-z or 0-9", ErrInvalidSlug, s)
		case c == '.' || c == '_' || c == '-':
		default:
			return fmt.Errorf("%w: %q has %s at byte %d; allowed are A-Z a-z 0-9 . _ -", ErrInvalidSlug, s, character(s[i:]), i)
		}
	}
	return nil
}

// character names the character s starts with as %q would show it, or
// its byte when s does not start with valid UTF-8.
func character(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && n <= 1 {
		return fmt.Sprintf("byte %#02x", s[0])
	}
	return strconv.QuoteRune(r)
}
