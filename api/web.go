package api

import (
	"embed"
	"mime"
	"net/http"
	"path"
)

// webFiles is the supervisor page: plain HTML, JS and CSS, no build step, no CDN.
//
//go:embed web/index.html web/app.js web/style.css
var webFiles embed.FS

//go:embed openapi.json
var openapiJSON []byte

func (s *server) page(w http.ResponseWriter, _ *http.Request, _ Principal) {
	serveEmbedded(w, "index.html")
}

func (s *server) asset(w http.ResponseWriter, r *http.Request, _ Principal) {
	serveEmbedded(w, r.PathValue("name"))
}

func serveEmbedded(w http.ResponseWriter, name string) {
	data, err := webFiles.ReadFile("web/" + path.Base(name))
	if err != nil || name == "" {
		writeError(w, newError(http.StatusNotFound, "not_found", "未找到", "no asset "+name, ""))
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:")
	_, _ = w.Write(data)
}

func (s *server) openapi(w http.ResponseWriter, _ *http.Request, _ Principal) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(openapiJSON)
}
