// Package embedded starts linkctl's own switch in one call: the engine with its
// media clock, the Sim technology with the configured endpoints, and the ARI
// face on a loopback listener (Start returns the ARI URL). cmd and tests use it;
// the controller still talks to the switch only over ARI.
package embedded
