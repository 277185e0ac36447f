/*
 * NAME
 *	daemon_serve - posthaste serve
 * DESCRIPTION
 *	Start-up order: parse flags, read the config file, apply flags over
 *	it, check; create the data directory; bind every listener and load
 *	TLS keys (as root when started as root); drop privileges; open the
 *	store and spool; run the loop. SIGTERM and SIGINT stop accepting,
 *	let the pending group commit finish, and exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "daemon/daemon_int.h"
#include "dns/dns.h"
#include "http/http.h"
#include "mta/mta.h"
#include "queue/queue.h"
#include "smtpd/smtpd.h"
#include "store/store.h"
#include "tls/tls.h"

#define SERVE_STORE_FILE "posthaste.db"

/* Command-line flags and the config keys they set. */
static const struct {
	const char *flag, *key;
} serve_flags[] = {
	{"--data-dir", "data_dir"},   {"--smtp", "smtp_listen"}, {"--smtps", "smtps_listen"},
	{"--http", "http_listen"},    {"--dns", "dns"},          {"--mx-port", "mx_port"},
	{"--hostname", "hostname"},   {"--log-level", "log_level"},
	{"--log-file", "log_file"},
};

struct serve {
	struct daemon_config cfg;
	struct event_base *base;
	struct event *sigterm, *sigint, *log_timer, *cmd_timer;
	int64_t store_version;
	struct http_server *http;
	struct smtpd_server *smtpd;
	struct queue *queue;
	struct store *store;
	struct tls_ctx *tls, *tls_out;
	struct dns *dns;
	struct mta *mta;
	struct daemon_recheck *recheck;
	int smtp_fd, smtps_fd, http_fd, https_fd;
};

static void
serve_stop(evutil_socket_t sig, short what, void *arg)
{
	struct serve *s = arg;

	log_info("daemon stop signal=%s", sig == SIGTERM ? "TERM" : "INT");
	if (s->smtpd)
		smtpd_server_stop(s->smtpd);
	event_base_loopexit(s->base, NULL);
}

#define SERVE_LOG_FLUSH_MS 100

static void
serve_log_flush(evutil_socket_t fd, short what, void *arg)
{
	log_flush();
}

#define SERVE_COMMAND_POLL_MS 500

static void
serve_command(void *arg, const char *cmd, const char *public_id)
{
	struct serve *s = arg;

	mta_command(s->mta, cmd, public_id, 0);
}

/* The dashboard's and the API's retry and delete. */
static size_t
serve_queue_command(void *arg, const char *cmd, const char *public_id, int64_t rcpt_id)
{
	struct serve *s = arg;

	return mta_command(s->mta, cmd, public_id, rcpt_id);
}

/* posthaste queue flush|delete leave commands in the store. */
static void
serve_poll_commands(evutil_socket_t fd, short what, void *arg)
{
	struct serve *s = arg;
	int64_t v = store_data_version(s->store);

	if (v == s->store_version)
		return;
	s->store_version = v;
	if (store_commands_take(s->store, serve_command, s) < 0)
		log_warn("daemon cannot read queue commands");
}

static void
serve_usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "posthaste: %s '%s' (try posthaste --help)\n", msg, arg);
	exit(2);
}

/* Parse argv into cfg: -c FILE first, then flags over it. */
static void
serve_parse_args(struct daemon_config *cfg, int argc, char **argv)
{
	const char *conf = NULL;
	char err[600];
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc)
				serve_usage_error("missing file after", argv[i]);
			conf = argv[++i];
		}
	if (conf && daemon_config_load(cfg, conf, err, sizeof(err)) < 0)
		fatal("%s", err);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *key = NULL;
		size_t k, n;

		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			i++;
			continue;
		}
		for (k = 0; k < PH_ARRAY_LEN(serve_flags); k++) {
			n = strlen(serve_flags[k].flag);
			if (strncmp(a, serve_flags[k].flag, n) == 0 && (a[n] == '\0' || a[n] == '=')) {
				key = serve_flags[k].key;
				if (a[n] == '=')
					val = a + n + 1;
				else if (i + 1 < argc)
					val = argv[++i];
				else
					serve_usage_error("missing value after", a);
				break;
			}
		}
		if (key == NULL)
			serve_usage_error("unknown option", a);
		if (daemon_config_set(cfg, key, val, err, sizeof(err)) < 0)
			fatal("%s: %s", a, err);
	}
	if (daemon_config_check(cfg, err, sizeof(err)) < 0)
		fatal("%s", err);
}

static void
metric(struct buf *b, const char *name, const char *type, const char *help, double v)
{
	if (buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name,
		       v) < 0)
		log_warn("metrics output truncated");
}

/* GET /metrics, Prometheus text format 0.0.4. */
static void
serve_metrics(void *arg, struct buf *b)
{
	struct serve *s = arg;
	struct queue_stats qs;
	struct mta_stats ms;

	queue_get_stats(s->queue, &qs);
	mta_get_stats(s->mta, &ms);
	metric(b, "posthaste_messages_accepted_total", "counter",
	       "Messages accepted and committed (SMTP, API, DSNs).", (double)qs.messages);
	metric(b, "posthaste_commit_batches_total", "counter", "Group commits.",
	       (double)qs.batches);
	metric(b, "posthaste_recipients_delivered_total", "counter",
	       "Recipients delivered (2xx from the receiving server).", (double)ms.delivered);
	metric(b, "posthaste_recipients_deferred_total", "counter",
	       "Delivery attempts that ended in a deferral.", (double)ms.deferred);
	metric(b, "posthaste_recipients_bounced_total", "counter", "Recipients bounced.",
	       (double)ms.bounced);
	metric(b, "posthaste_recipients_expired_total", "counter",
	       "Recipients expired after the maximum lifetime.", (double)ms.expired);
	metric(b, "posthaste_possible_duplicates_total", "counter",
	       "Deliveries after an attempt whose final reply was lost.", (double)ms.duplicates);
	metric(b, "posthaste_dsn_total", "counter", "DSNs queued.", (double)ms.dsns);
	metric(b, "posthaste_queue_recipients", "gauge", "Recipients waiting for delivery.",
	       (double)ms.queued);
	metric(b, "posthaste_smtp_connections", "gauge", "Open SMTP submission connections.",
	       (double)smtpd_server_connections(s->smtpd));
	metric(b, "posthaste_delivery_sessions", "gauge", "Open outbound SMTP sessions.",
	       (double)ms.sessions_open);
	if (buf_puts(b, "# HELP posthaste_delivery_latency_seconds Accepted to delivered.\n"
			"# TYPE posthaste_delivery_latency_seconds histogram\n") < 0)
		return;
	for (unsigned i = 0; i < MTA_LATENCY_BUCKETS; i++)
		if (buf_printf(b, "posthaste_delivery_latency_seconds_bucket{le=\"%g\"} %llu\n",
			       mta_latency_bounds[i], (unsigned long long)ms.latency_le[i]) < 0)
			return;
	if (buf_printf(b,
		       "posthaste_delivery_latency_seconds_bucket{le=\"+Inf\"} %llu\n"
		       "posthaste_delivery_latency_seconds_sum %.6f\n"
		       "posthaste_delivery_latency_seconds_count %llu\n",
		       (unsigned long long)ms.latency_count, ms.latency_sum_s,
		       (unsigned long long)ms.latency_count) < 0)
		log_warn("metrics output truncated");
}

/* The delivery engine's settings from the daemon's. */
static void
serve_mta_config(const struct daemon_config *c, struct mta_config *mc)
{
	mta_config_defaults(mc);
	mc->hostname = c->hostname;
	mc->mx_port = (uint16_t)c->mx_port;
	mc->dest_concurrency = (unsigned)c->mta_concurrency;
	mc->max_rcpts_per_txn = (unsigned)c->mta_max_rcpts;
	mc->connect_timeout_ms = c->mta_connect_timeout_ms;
	mc->command_timeout_ms = c->mta_command_timeout_ms;
	mc->data_timeout_ms = c->mta_data_timeout_ms;
	mc->idle_reuse_ms = c->mta_idle_reuse_ms;
	mc->greylist_retry_ms = c->mta_greylist_retry_ms;
	mc->max_lifetime_ms = c->mta_max_lifetime_ms;
	mc->tls_ca_file = c->tls_ca_file;
	mc->hold = c->mta_hold;
	if (mta_config_retry(mc, c->mta_retry_schedule) < 0)
		fatal("bad value for mta_retry_schedule: '%s' (want durations separated by commas, "
		      "at most %d)",
		      c->mta_retry_schedule, MTA_RETRY_MAX);
	for (unsigned i = 0; i < c->nroutes; i++)
		if (mta_config_route(mc, c->routes[i][0], c->routes[i][1]) < 0)
			fatal("bad route.%s = %s", c->routes[i][0], c->routes[i][1]);
}

/* Create the data directory and hand it to the run user. */
static void
serve_prepare_data_dir(struct serve *s, unsigned uid, unsigned gid, int chown_it)
{
	const char *d = s->cfg.data_dir;
	const char *subs[] = {"spool", "spool/corrupt"};
	char path[4096];

	if (mkdir(d, 0750) < 0 && errno != EEXIST)
		fatal("cannot create data directory %s: %s", d, strerror(errno));
	for (size_t i = 0; i < PH_ARRAY_LEN(subs); i++) {
		snprintf(path, sizeof(path), "%s/%s", d, subs[i]);
		if (mkdir(path, 0750) < 0 && errno != EEXIST)
			fatal("cannot create %s: %s", path, strerror(errno));
	}
	if (chown_it && daemon_chown_tree(d, uid, gid) < 0)
		fatal("cannot give %s to uid %u: %s", d, uid, strerror(errno));
}

int
daemon_serve_main(int argc, char **argv)
{
	struct serve s;
	struct smtpd_config sc;
	struct mta_config mc;
	struct http_config hc;
	enum log_level lvl;
	char who[64], err[600], *path;
	unsigned uid = 0, gid = 0;
	int as_root = geteuid() == 0;
	FILE *logfp = NULL;

	memset(&s, 0, sizeof(s));
	s.smtp_fd = s.smtps_fd = s.http_fd = s.https_fd = -1;
	daemon_config_defaults(&s.cfg);
	serve_parse_args(&s.cfg, argc, argv);
	if (log_level_parse(s.cfg.log_level, &lvl) == 0)
		log_set_level(lvl);
	/* Buffered before the first line (setvbuf comes before any output);
	 * fatal() and warnings flush at once, the rest every 100 ms. */
	log_set_buffered(1);
	if (s.cfg.log_file) {
		if ((logfp = fopen(s.cfg.log_file, "a")) == NULL)
			fatal("cannot open log_file %s: %s", s.cfg.log_file, strerror(errno));
		log_set_stream(logfp);
	}
	if (s.cfg.hostname == NULL) {
		char h[256];

		host_name(h, sizeof(h));
		s.cfg.hostname = xstrdup(h);
	}
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() < 0)
		fatal("libevent has no pthreads support");

	if (as_root) {
		if (priv_lookup(s.cfg.run_user, &uid, &gid) < 0) {
			if (priv_lookup("nobody", &uid, &gid) < 0)
				fatal("run_user %s does not exist, nor does nobody", s.cfg.run_user);
			log_warn("daemon run_user=%s missing; using nobody (scripts/deps creates it)",
				 s.cfg.run_user);
			free(s.cfg.run_user);
			s.cfg.run_user = xstrdup("nobody");
		}
	}
	serve_prepare_data_dir(&s, uid, gid, as_root);

	/* Listeners and keys, still privileged. */
	s.smtp_fd = daemon_listen("SMTP", s.cfg.smtp_listen);
	if (s.cfg.smtps_listen)
		s.smtps_fd = daemon_listen("SMTPS", s.cfg.smtps_listen);
	s.http_fd = daemon_listen("HTTP", s.cfg.http_listen);
	if (s.cfg.https_listen)
		s.https_fd = daemon_listen("HTTPS", s.cfg.https_listen);
	s.tls = tls_ctx_new_server(s.cfg.tls_cert, s.cfg.tls_key, s.cfg.data_dir,
				   s.cfg.hostname, as_root ? uid : (unsigned)-1, gid, err,
				   sizeof(err));
	if (s.tls == NULL)
		fatal("%s", err);
	s.tls_out = tls_ctx_new_client(s.cfg.tls_ca_file, err, sizeof(err));
	if (s.tls_out == NULL)
		fatal("%s", err);

	if (as_root) {
		if (priv_drop(s.cfg.run_user, NULL, who, sizeof(who)) < 0)
			fatal("cannot drop privileges to %s", s.cfg.run_user);
		log_info("daemon privileges dropped user=%s", who);
	}

	if (access(s.cfg.data_dir, R_OK | W_OK | X_OK) < 0)
		fatal("data directory %s is not usable by %s: %s (check its parent directories' "
		      "permissions)",
		      s.cfg.data_dir, as_root ? s.cfg.run_user : "this user", strerror(errno));
	path = xasprintf("%s/%s", s.cfg.data_dir, SERVE_STORE_FILE);
	if (store_open(path, &s.store, err, sizeof(err)) < 0)
		fatal("%s", err);
	free(path);

	s.base = event_base_new();
	if (s.base == NULL || event_base_priority_init(s.base, QUEUE_PRIORITIES) < 0)
		fatal("cannot create the event loop");
	s.queue = queue_new(s.base, s.store, s.cfg.data_dir, err, sizeof(err));
	if (s.queue == NULL)
		fatal("%s", err);
	queue_set_commit_delay(s.queue, (long)s.cfg.queue_commit_delay_ms * 1000);

	s.dns = dns_new(s.base, s.cfg.dns, err, sizeof(err));
	if (s.dns == NULL)
		fatal("%s", err);
	serve_mta_config(&s.cfg, &mc);
	s.mta = mta_new(s.base, &mc, s.store, s.queue, s.dns, s.tls_out);
	if (mta_load(s.mta) < 0)
		fatal("cannot load the queue from the store");
	if (mc.hold)
		log_warn("mta delivery on hold (mta_hold = yes): mail is accepted and queued only");

	smtpd_config_defaults(&sc);
	sc.hostname = s.cfg.hostname;
	sc.max_message_size = s.cfg.smtp_max_message_size;
	sc.max_recipients = (unsigned)s.cfg.smtp_max_recipients;
	sc.max_line = (size_t)s.cfg.smtp_max_line;
	sc.max_connections = (unsigned)s.cfg.smtp_max_connections;
	sc.max_per_ip = (unsigned)s.cfg.smtp_max_per_ip;
	sc.max_errors = (unsigned)s.cfg.smtp_max_errors;
	sc.idle_timeout_ms = s.cfg.smtp_idle_timeout_ms;
	sc.preauth_idle_timeout_ms = s.cfg.smtp_preauth_idle_timeout_ms;
	sc.session_timeout_ms = s.cfg.smtp_session_timeout_ms;
	sc.auth_plaintext_loopback = s.cfg.smtp_auth_plaintext_loopback;
	s.smtpd = smtpd_server_new(s.base, &sc, s.tls, s.store, s.queue);
	smtpd_server_listen(s.smtpd, s.smtp_fd, 0);
	if (s.smtps_fd >= 0)
		smtpd_server_listen(s.smtpd, s.smtps_fd, 1);

	hc.hostname = s.cfg.hostname;
	hc.max_recipients = (size_t)s.cfg.smtp_max_recipients;
	hc.max_message_size = (size_t)s.cfg.smtp_max_message_size;
	hc.dash.idle_ms = s.cfg.dashboard_session_idle_ms;
	hc.dash.lifetime_ms = s.cfg.dashboard_session_lifetime_ms;
	hc.dash.origin = s.cfg.dashboard_origin;
	s.http = http_server_new(s.base, s.http_fd, &hc, s.store, s.queue);
	if (s.https_fd >= 0)
		http_server_listen_tls(s.http, s.https_fd, s.tls);
	http_server_set_queue(s.http, serve_queue_command, &s);
	http_server_set_metrics(s.http, serve_metrics, &s);
	path = xasprintf("%s/%s", s.cfg.data_dir, SERVE_STORE_FILE);
	s.recheck = daemon_recheck_start(path, s.cfg.dns, s.cfg.hostname,
					 s.cfg.domain_recheck_interval_ms);
	free(path);
	http_server_set_recheck(s.http, daemon_recheck_now, s.recheck);

	s.sigterm = evsignal_new(s.base, SIGTERM, serve_stop, &s);
	s.sigint = evsignal_new(s.base, SIGINT, serve_stop, &s);
	event_add(s.sigterm, NULL);
	event_add(s.sigint, NULL);
	/* Log lines leave in batches: one write per SERVE_LOG_FLUSH_MS, not
	 * one per line, at thousands of messages a second. */
	s.log_timer = event_new(s.base, -1, EV_PERSIST, serve_log_flush, NULL);
	{
		struct timeval tv = {0, SERVE_LOG_FLUSH_MS * 1000};

		event_add(s.log_timer, &tv);
	}
	s.store_version = -1;
	s.cmd_timer = event_new(s.base, -1, EV_PERSIST, serve_poll_commands, &s);
	{
		struct timeval tv = {0, SERVE_COMMAND_POLL_MS * 1000};

		event_add(s.cmd_timer, &tv);
	}

	log_info("daemon start version=%s smtp=%s%s%s http=%s%s%s data_dir=%s hostname=%s",
		 PH_VERSION, s.cfg.smtp_listen, s.cfg.smtps_listen ? " smtps=" : "",
		 s.cfg.smtps_listen ? s.cfg.smtps_listen : "", s.cfg.http_listen,
		 s.cfg.https_listen ? " https=" : "", s.cfg.https_listen ? s.cfg.https_listen : "",
		 s.cfg.data_dir, s.cfg.hostname);
	log_flush(); /* the start-up story is out before the first client */
	event_base_dispatch(s.base);

	/* Orderly shutdown: finish what was accepted, then release. */
	daemon_recheck_stop(s.recheck);
	queue_flush(s.queue);
	smtpd_server_free(s.smtpd);
	http_server_free(s.http);
	mta_free(s.mta);
	queue_free(s.queue);
	dns_free(s.dns);
	event_free(s.sigterm);
	event_free(s.sigint);
	event_free(s.log_timer);
	event_free(s.cmd_timer);
	event_base_free(s.base);
	store_close(s.store);
	tls_ctx_free(s.tls);
	daemon_config_free(&s.cfg);
	log_info("daemon stopped");
	log_flush();
	if (logfp)
		fclose(logfp);
	return 0;
}
