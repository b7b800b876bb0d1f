package api

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkSoftkeyHTTP is the API's own cost of one agent-desktop softkey over
// loopback HTTP (auth, strict decode, leg check, controller hand-off, answer).
func BenchmarkSoftkeyHTTP(b *testing.B) {
	ctl := newFakeController(sampleCall("c1", t0))
	srv := testServer(b, Options{Controller: ctl})
	client := srv.Client()
	body := `{"key":"cancel","ticket_id":"GD-1"}`
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/calls/c1/softkeys", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tokAgent12345)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
}

// BenchmarkListCalls lists 100 of 1,000 records (fake store: measures the API's encoding and filtering).
func BenchmarkListCalls(b *testing.B) {
	st := newFakeStore()
	for i := range 1000 {
		st.save(sampleCall(fmt.Sprintf("c%04d", i), t0.Add(time.Duration(i)*time.Second)))
	}
	srv := testServer(b, Options{Store: st})
	client := srv.Client()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/calls?limit=100", nil)
		req.Header.Set("Authorization", "Bearer "+tokSup)
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || n == 0 {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
}
