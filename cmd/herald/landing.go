package main

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"net/http"
)

// landingHTML is served at /: a stranger who opens herald's address sees
// what it is and where to go instead of a 404.
//
//go:embed landing.html
var landingHTML []byte

// landing serves the landing page at exactly / (every other path still
// goes to the ingress the rules file declares) and the favicon.
func landing(mux *http.ServeMux) {
	mux.Handle("GET /{$}", staticFile("index.html", landingHTML))
	icon := favicon()
	mux.Handle("GET /favicon.ico", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/x-icon")
		staticFile("favicon.ico", icon).ServeHTTP(w, r)
	}))
}

// favicon draws herald's icon, a white bell-ish dot on a violet disc, as
// a 32×32 PNG inside an ICO container (every browser reads that).
func favicon() []byte {
	const size = 32
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	violet := color.NRGBA{R: 0x6d, G: 0x3f, B: 0xd8, A: 0xff}
	white := color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
	for y := range size {
		for x := range size {
			dx, dy := x-size/2, y-size/2
			switch r := dx*dx + dy*dy; {
			case r <= 7*7 && y <= size/2+3:
				img.Set(x, y, white) // the bell
			case y == size/2+6 && dx >= -2 && dx <= 1:
				img.Set(x, y, white) // its clapper
			case r <= 15*15:
				img.Set(x, y, violet)
			}
		}
	}
	var pngData bytes.Buffer
	if err := png.Encode(&pngData, img); err != nil {
		return nil
	}
	var ico bytes.Buffer
	// ICONDIR: reserved, type 1 (icon), one image; then its ICONDIRENTRY.
	binary.Write(&ico, binary.LittleEndian, [3]uint16{0, 1, 1})
	ico.Write([]byte{size, size, 0, 0})
	binary.Write(&ico, binary.LittleEndian, [2]uint16{1, 32}) // planes, bits per pixel
	binary.Write(&ico, binary.LittleEndian, [2]uint32{uint32(pngData.Len()), 6 + 16})
	ico.Write(pngData.Bytes())
	return ico.Bytes()
}
