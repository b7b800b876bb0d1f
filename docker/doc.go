// Package docker holds the production deployment of linkctl on Asterisk 22:
// compose.yaml (Asterisk, linkctl, PostgreSQL), the linkctl Dockerfile, the
// Asterisk image (asterisk/Dockerfile, asterisk/entrypoint.sh) and the
// Asterisk configuration a PBX administrator starts from (asterisk/conf).
//
// The package has no code, only tests. No docker engine runs where linkctl
// is built, so the tests check what can be checked without one: the compose
// file parses and wires the services, volumes, ports and secrets together;
// the Dockerfiles are well-formed multi-stage builds ending as a non-root
// user; every Asterisk .conf file parses as Asterisk-style INI and uses only
// options Asterisk 22 knows; the entrypoint renders the secret-bearing files;
// and docker/linkctl.yaml passes linkctl's own configuration validation.
package docker
