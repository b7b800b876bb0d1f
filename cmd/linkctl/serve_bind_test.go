package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"linkctl/config"
)

// TestServeAPIPortTaken: with api.listen taken, serve fails before announcing
// anything or starting the switch: the error names the address and the config
// key, the SIP port and the store file were never taken.
func TestServeAPIPortTaken(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sipAddr := udp.LocalAddr().String()
	udp.Close()

	dir := t.TempDir()
	cfg := config.Default()
	cfg.API.Listen = busy.Addr().String()
	cfg.SIP.ListenUDP = sipAddr
	cfg.SIP.ListenTCP = ""
	cfg.Store.Path = filepath.Join(dir, "calls.db")
	cfg.Log.Level = "error"
	data, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "linkctl.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	err = cmdServe([]string{"-config", path}, &stdout, &stderr)
	if err == nil {
		t.Fatal("serve with api.listen taken returned no error")
	}
	for _, want := range []string{busy.Addr().String(), "api.listen"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if strings.Contains(stdout.String(), "API and supervisor page") {
		t.Errorf("serve announced the API although it could not bind: %q", stdout.String())
	}
	// Nothing was started: the SIP port is free and no store file was made.
	again, err := net.ListenPacket("udp", sipAddr)
	if err != nil {
		t.Errorf("SIP port %s still held after serve failed: %v", sipAddr, err)
	} else {
		again.Close()
	}
	if _, err := os.Stat(cfg.Store.Path); !os.IsNotExist(err) {
		t.Errorf("store %s was opened although serve could not bind the API (stat: %v)", cfg.Store.Path, err)
	}
}
