package spell

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"channel.follow", "channel.raid", "channel.cheer"}
	tests := []struct{ in, want string }{
		{"channel.folow", "channel.follow"},
		{"channel.raids", "channel.raid"},
		{"Channel.Raid", "channel.raid"},
		{"stream.online", ""},
		{"", ""},
	}
	for _, tc := range tests {
		if got := Closest(tc.in, known); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := Typo("channel.folow", known); got != "channel.follow" {
		t.Errorf("Typo(channel.folow) = %q, want channel.follow", got)
	}
	if got := Typo("channel.ban", known); got != "" {
		t.Errorf("Typo(channel.ban) = %q, want none: another type, not a typo", got)
	}
	if d := Distance("kitten", "sitting"); d != 3 {
		t.Errorf("Distance(kitten, sitting) = %d, want 3", d)
	}
}
