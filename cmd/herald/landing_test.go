package main

import (
	"bytes"
	"encoding/binary"
	"image/png"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestFaviconIsAnIcon reads the ICO container back the way a browser does:
// one 32×32 entry whose PNG payload sits at the offset it names.
func TestFaviconIsAnIcon(t *testing.T) {
	ico := favicon()
	var dir [3]uint16
	if err := binary.Read(bytes.NewReader(ico), binary.LittleEndian, &dir); err != nil || dir != [3]uint16{0, 1, 1} {
		t.Fatalf("ICONDIR = %v, %v, want [0 1 1]", dir, err)
	}
	size := binary.LittleEndian.Uint32(ico[14:18])
	offset := binary.LittleEndian.Uint32(ico[18:22])
	if int(offset+size) != len(ico) {
		t.Fatalf("entry says %d bytes at %d, file has %d", size, offset, len(ico))
	}
	img, err := png.Decode(bytes.NewReader(ico[offset:]))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 32 || b.Dy() != 32 || ico[6] != 32 || ico[7] != 32 {
		t.Errorf("icon is %v (entry %d×%d), want 32×32", b, ico[6], ico[7])
	}
}

// TestLandingLinksTheReadmesStart: the landing page's example overlay
// uses the code of the README's 30-second start, so the curl a new user
// copies from the README fires an alert into the page the landing page
// opened.
func TestLandingLinksTheReadmesStart(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, start, _ := strings.Cut(string(readme), "## 30-second start")
	start, _, _ = strings.Cut(start, "\n## ")
	m := regexp.MustCompile(`/sources/example\.html\?code=([A-Za-z0-9_-]+)`).FindStringSubmatch(start)
	if m == nil {
		t.Fatal("the README's 30-second start opens no example.html?code=…")
	}
	if !strings.Contains(start, "/notify?code="+m[1]+"&") {
		t.Errorf("the README's 30-second start opens code %s but fires its alert elsewhere", m[1])
	}
	link := `href="/sources/example.html?code=` + m[1] + `"`
	if !bytes.Contains(landingHTML, []byte(link)) {
		t.Errorf("landing.html does not link %s, the README's 30-second start", link)
	}
}
