package docker

// Option names Asterisk 22 knows, per configuration file and section kind.
// Sources: the Asterisk 22 configuration reference (docs.asterisk.org,
// "Module_Configuration" pages for res_pjsip, res_ari, res_http,
// res_rtp_asterisk, res_musiconhold, logger, cdr, manager) and the sample
// files shipped in the Asterisk source tree (configs/samples/*.conf.sample).
// The options the shared configuration used on a real 22.11 are added at
// test time from ../shared/asterisk/conf (sharedOptions), so this table only
// has to list what the docker files use beyond that.
var knownOptions = map[string]map[string][]string{
	"asterisk.conf": {
		"directories": {"astcachedir", "astetcdir", "astmoddir", "astvarlibdir", "astdbdir", "astkeydir",
			"astdatadir", "astagidir", "astspooldir", "astrundir", "astlogdir", "astsbindir"},
		"options": {"verbose", "debug", "trace", "refdebug", "alwaysfork", "nofork", "quiet", "timestamp",
			"execincludes", "console", "highpriority", "initcrypto", "nocolor", "dontwarn", "dumpcore",
			"languageprefix", "systemname", "autosystemname", "mindtmfduration", "maxcalls", "maxload",
			"maxfiles", "minmemfree", "cache_media_frames", "cache_record_files", "record_cache_dir",
			"transmit_silence", "runuser", "rungroup", "lightbackground", "forceblackbackground",
			"defaultlanguage", "documentation_language", "hideconnect", "lockconfdir", "stdexten",
			"live_dangerously", "entityid", "rtp_use_dynamic", "rtp_pt_dynamic", "sounds_search_custom_dir",
			"channel_storage_backend", "disable_remote_console_shell"},
	},
	"logger.conf": {
		"general": {"dateformat", "use_callids", "appendhostname", "queue_log", "queue_log_to_file",
			"queue_log_name", "queue_log_realtime_use_gmt", "rotatestrategy", "exec_after_rotate",
			"logger_queue_limit"},
	},
	"modules.conf": {
		"modules": {"autoload", "preload", "preload-require", "require", "load", "noload"},
	},
	"features.conf": {"general": {"featuredigittimeout", "courtesytone", "recordingfailsound",
		"transferdigittimeout", "xfersound", "xferfailsound", "pickupexten", "pickupsound", "pickupfailsound"}},
	"udptl.conf":   {"general": {"udptlstart", "udptlend", "udptlchecksums", "udptlfecentries", "udptlfecspan", "use_even_ports"}},
	"manager.conf": {"general": {"enabled", "webenabled", "port", "bindaddr", "displayconnects"}},
	"cdr.conf":     {"general": {"enable", "unanswered", "congestion", "endbeforehexten", "initiatedseconds", "batch"}},
	"http.conf": {
		"general": {"servername", "enabled", "bindaddr", "bindport", "prefix", "sessionlimit",
			"session_inactivity", "session_keep_alive", "enablestatic", "redirect", "tlsenable",
			"tlsbindaddr", "tlscertfile", "tlsprivatekey", "tlscipher", "tlsdisablev1", "tlsdisablev11",
			"tlsdisablev12", "tlsservercipherorder"},
	},
	"ari.conf": {
		"general": {"enabled", "pretty", "allowed_origins", "auth_realm", "websocket_write_timeout", "channelvars"},
		"user":    {"type", "read_only", "password", "password_format", "acl", "deny", "permit"},
	},
	"rtp.conf": {
		"general": {"rtpstart", "rtpend", "rtpchecksums", "dtmftimeout", "rtcpinterval", "strictrtp",
			"probation", "srtpreplayprotection", "icesupport", "stunaddr", "turnaddr", "turnusername",
			"turnpassword", "ice_host_candidate", "ice_blacklist", "ice_acl", "stun_blacklist", "stun_acl",
			"dtls_mtu"},
	},
	"musiconhold.conf": {
		"general": {"cachertclasses", "preload_files"},
		"class":   {"mode", "directory", "sort", "application", "format", "kill_escalation_delay", "kill_method", "digit", "announcement", "loop_last", "answeredonly"},
	},
	"indications.conf": {
		"general": {"country"},
		"zone": {"description", "ringcadence", "dial", "busy", "ring", "congestion", "callwaiting",
			"dialrecall", "record", "info", "stutter"},
	},
	"extensions.conf": {
		"general": {"static", "writeprotect", "autofallthrough", "extenpatternmatchnew",
			"clearglobalvars", "userscontext"},
		"context": {"exten", "same", "include", "switch", "ignorepat"},
	},
	"pjsip.conf": {
		"global": {"type", "max_forwards", "keep_alive_interval", "user_agent", "default_outbound_endpoint",
			"debug", "endpoint_identifier_order", "default_voicemail_extension", "unidentified_request_count",
			"unidentified_request_period", "unidentified_request_prune_interval", "default_from_user",
			"default_realm", "mwi_tps_queue_high", "mwi_disable_initial_unsolicited", "ignore_uri_user_options",
			"use_callerid_contact", "send_contact_status_on_update_registration", "taskprocessor_overload_trigger",
			"norefersub", "allow_sending_180_after_183", "all_codecs_on_empty_reinvite"},
		"system": {"type", "timer_t1", "timer_b", "compact_headers", "threadpool_initial_size",
			"threadpool_auto_increment", "threadpool_idle_timeout", "threadpool_max_size",
			"disable_tcp_switch", "follow_early_media_fork", "accept_multiple_sdp_answers", "disable_rport"},
		"transport": {"type", "protocol", "bind", "async_operations", "ca_list_file", "ca_list_path",
			"cert_file", "cipher", "domain", "external_media_address", "external_signaling_address",
			"external_signaling_port", "local_net", "method", "password", "priv_key_file",
			"require_client_cert", "verify_client", "verify_server", "tos", "cos", "websocket_write_timeout",
			"allow_reload", "symmetric_transport", "allow_wildcard_certs", "tcp_keepalive_enable",
			"tcp_keepalive_idle_time", "tcp_keepalive_interval_time", "tcp_keepalive_probe_count"},
		"endpoint": {"type", "context", "disallow", "allow", "dtmf_mode", "rtp_symmetric", "force_rport",
			"rewrite_contact", "transport", "direct_media", "aors", "auth", "outbound_auth", "callerid",
			"callerid_privacy", "callerid_tag", "identify_by", "send_pai", "send_rpid", "trust_id_inbound",
			"trust_id_outbound", "tone_zone", "language", "media_address", "bind_rtp_to_media_address",
			"from_user", "from_domain", "moh_suggest", "timers", "timers_min_se", "timers_sess_expires",
			"inband_progress", "device_state_busy_at", "allow_transfer", "set_var", "sdp_owner",
			"sdp_session", "rtp_timeout", "rtp_timeout_hold", "rtp_keepalive", "ice_support",
			"use_ptime", "100rel", "send_diversion", "user_eq_phone", "allow_subscribe",
			"t38_udptl", "fax_detect", "max_audio_streams", "max_video_streams", "suppress_q850_reason_headers",
			"accountcode", "trust_connected_line", "send_connected_line", "connected_line_method",
			"direct_media_method", "disable_direct_media_on_nat", "incoming_call_offer_pref",
			"outgoing_call_offer_pref", "notify_early_inuse_ringing", "refer_blind_progress",
			"allow_unauthenticated_options", "security_negotiation"},
		"auth": {"type", "auth_type", "username", "password", "md5_cred", "realm", "nonce_lifetime",
			"password_digest", "supported_algorithms_uas", "supported_algorithms_uac"},
		"aor": {"type", "contact", "max_contacts", "remove_existing", "remove_unavailable",
			"qualify_frequency", "qualify_timeout", "authenticate_qualify", "default_expiration",
			"minimum_expiration", "maximum_expiration", "outbound_proxy", "support_path", "mailboxes",
			"voicemail_extension", "qualify_2xx_only"},
		"identify": {"type", "endpoint", "match", "match_header", "match_request_uri", "srv_lookups"},
	},
}

// logLevels are the levels a [logfiles] channel may name.
var logLevels = map[string]bool{"debug": true, "trace": true, "notice": true, "warning": true,
	"error": true, "verbose": true, "dtmf": true, "fax": true, "security": true, "*": true}
