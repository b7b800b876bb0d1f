// Package examples holds sample linkctl configurations (the YAML files next to
// this one) and the tests that load them with config.Load, so a sample that no
// longer validates fails the build. It has no code of its own.
package examples
