// Package drive runs linkctl's own ARI adapter (ari/client) and controller
// (callflow) against the recorded Asterisk 22 traces served by the replay
// server of package trace. It holds only tests; it lives apart from package
// trace so the trace reader keeps building and testing while the controller
// is being changed.
package drive
