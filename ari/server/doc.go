// Package server is the embedded switch's ARI face: the REST routes under /ari
// and the /ari/events websocket, with Asterisk's JSON shapes, status codes and
// error bodies, HTTP basic auth, and parameters taken from the query string or a
// JSON body (the ari/v5 native client sends JSON bodies). It holds no call state:
// every request is one engine call. It must only listen on loopback.
package server
