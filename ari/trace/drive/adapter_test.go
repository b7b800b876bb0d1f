package drive_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"linkctl/ari/client"
	"linkctl/ari/trace"
	"linkctl/ari/trace/tracetest"
	"linkctl/callflow"
)

// Every recorded Asterisk event stream, pushed over a real websocket by the
// replay server, reaches the controller through linkctl's ARI adapter in
// order, and the adapter reconnects where the recording dropped the socket.
func TestEveryTraceThroughTheARIAdapter(t *testing.T) {
	dir := tracetest.Traces(t)
	names, err := trace.Names(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			tr, err := trace.Load(dir, name)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, ev := range tr.Events() {
				d, err := client.Decode(ev.Raw)
				if err != nil {
					t.Fatalf("line %d: %v", ev.Line, err)
				}
				if d != nil {
					want = append(want, describe(d))
				}
			}
			sessions := 0
			for _, x := range tr.HTTP() {
				if x.IsUpgrade() {
					sessions++
				}
			}
			srv := trace.NewServer(tr, trace.Options{Pace: trace.PaceFree, AutoStart: true, Logger: zaptest.NewLogger(t)})
			defer srv.Close()
			cl, err := client.New(client.Options{URL: srv.URL(), WebsocketURL: srv.WebsocketURL(), Username: "linkctl",
				Password: "linkctl-secret", Application: "linkctl", ReconnectMin: 10 * time.Millisecond,
				ReconnectMax: 50 * time.Millisecond, Logger: zaptest.NewLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			go func() { _ = cl.Run(ctx) }()
			var got []string
			connects := 0
			for len(got) < len(want) || connects < sessions {
				select {
				case ev, ok := <-cl.Events():
					if !ok {
						t.Fatalf("adapter stopped; got %d of %d events", len(got), len(want))
					}
					if c, isConn := ev.(callflow.Connected); isConn {
						connects++
						if c.Reconnect != (connects > 1) {
							t.Errorf("connect %d reported Reconnect=%v", connects, c.Reconnect)
						}
						continue
					}
					got = append(got, describe(ev))
				case <-ctx.Done():
					t.Fatalf("timed out: %d/%d events, %d/%d connects; misses %v", len(got), len(want), connects, sessions, srv.Misses())
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("adapter events differ from the recording:\n got %v\nwant %v", got, want)
			}
			t.Logf("%d adapter events over %d websocket sessions", len(got), connects)
			<-srv.Done()
			for _, m := range srv.Misses() {
				if m.Kind == trace.MissAuth {
					t.Errorf("adapter failed auth: %v", m)
				}
			}
		})
	}
}

func describe(ev callflow.Event) string { return fmt.Sprintf("%T%+v", ev, ev) }
