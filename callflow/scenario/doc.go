// Package scenario holds linkctl's demo scenarios: real citizen calls on the
// embedded switch's Sim phones, driven through the controller over ARI, each
// checking at every step who is bridged with whom (read back with ARI GET
// /bridges), that the caller is never left in silence (the switch's hearing log),
// that no channel or bridge is left afterwards, and the call record.
//
// `linkctl demo` runs All() and prints each Result; the package's tests run the
// same scenarios, and its benchmark drives many concurrent one-key transfers.
// It is test and demo code: it must not be used to carry production calls.
package scenario
