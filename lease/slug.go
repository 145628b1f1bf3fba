package lease

import "fmt"

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
			return fmt.Errorf("%w: %q must start with a letter or a digit", ErrInvalidSlug, s)
		case c == '.' || c == '_' || c == '-':
		default:
			return fmt.Errorf("%w: %q has %q at byte %d; allowed are A-Z a-z 0-9 . _ -", ErrInvalidSlug, s, rune(c), i)
		}
	}
	return nil
}
