package listeners

import "testing"

func TestReleaseAtLeast(t *testing.T) {
	tests := []struct {
		release string
		want    bool
	}{
		{"6.18.44-fc-v1045", true}, {"6.18", true}, {"6.19-rc1", true}, {"7.0.0", true},
		{"6.17.9", false}, {"5.19.0", false}, {"6", false}, {"x.y", false}, {"6.1x", false},
	}
	for _, tt := range tests {
		if got := releaseAtLeast(tt.release, 6, 18); got != tt.want {
			t.Errorf("releaseAtLeast(%q, 6, 18) = %v, want %v", tt.release, got, tt.want)
		}
	}
}
