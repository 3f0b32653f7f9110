package metrics

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/ingress"
)

// scraped reads the figures other parts already keep, at scrape time.
type scraped struct{ opts Options }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descRouted     = desc("herald_events_routed_total", "Events that produced at least one delivery.")
	descDropped    = desc("herald_events_dropped_total", "Events a drop rule matched.")
	descUnrouted   = desc("herald_events_unrouted_total", "Events no rule acted on and no default route applied to.")
	descExprErrs   = desc("herald_rule_expression_errors_total", "Rules skipped because an expression failed on an event.")
	descPublished  = desc("herald_ingress_published_total", "Requests an ingress instance turned into an event.", "instance")
	descDuplicates = desc("herald_ingress_duplicates_total", "Retries an ingress instance recognised and did not publish again.", "instance")
	descRefused    = desc("herald_ingress_refused_total", "Requests an ingress instance refused, by reason.", "instance", "reason")
	descReloads    = desc("herald_rules_reloads_total", "Rules files loaded successfully since start (the generation).")
	descFailed     = desc("herald_rules_reload_failures_total", "Rules loads refused since start.")
	descLoadedAt   = desc("herald_rules_loaded_timestamp_seconds", "When the running rules were loaded.")
	descLastFailed = desc("herald_rules_last_load_failed", "1 when the newest rules save failed to load and older rules are running.")
	descRules      = desc("herald_rules", "Rules in the running file.")
	descPages      = desc("herald_pages_connected", "Pages connected now, by transport.", "transport")
	descCodes      = desc("herald_codes_connected", "Distinct codes with at least one registered page.")
	descJEntries   = desc("herald_journal_entries", "Entries in the journal.")
	descJRooms     = desc("herald_journal_rooms", "Rooms with journaled entries.")
	descJBytes     = desc("herald_journal_bytes", "Size of the journal's store in bytes, where known.")
	descJErrs      = desc("herald_journal_append_errors_total", "Journal appends that failed since start.")
	descJHealthy   = desc("herald_journal_healthy", "1 while every alert is journaled; 0 while alerts go out without history (an append failed within the last minute, or in cluster mode alerts wait for Redis) or the history is in memory because --data could not be used.")
	descJCommits   = desc("herald_journal_commits_total", "Group commits of the journal's store (fsync'd transactions; 0 for stores without them).")
	descCConnected = desc("herald_cluster_connected", "1 while this node's Redis subscription is up (cluster mode).")
	descCDisconn   = desc("herald_cluster_disconnects_total", "Redis subscription losses since start.")
	descCLocalOnly = desc("herald_cluster_local_only_total", "Deliveries handed to this node's pages only, while Redis was away.")
	descCResynced  = desc("herald_cluster_resynced_total", "Deliveries read back from the journal after a reconnect.")
	descCDups      = desc("herald_cluster_duplicates_total", "Second copies of a delivery dropped before reaching a page.")
	descCRoundTrip = desc("herald_cluster_round_trips_total", "Redis pipelines that carried deliveries.")
	descCWaiting   = desc("herald_cluster_outbox_waiting", "Deliveries this node sent to its own pages only while Redis was away, waiting to be journaled (and sent to the other nodes).")
	descCJournaled = desc("herald_cluster_outbox_journaled_total", "Deliveries journaled late, once Redis was back, and sent to every node.")
	descCDropped   = desc("herald_cluster_outbox_dropped_total", "Deliveries the outbox gave up: older than recovery_window, or the outbox full.")
	descJWait      = desc("herald_journal_commit_wait_seconds", "How long journaled deliveries waited for their entry to be on disk (a group commit): the journal's lag on the alert path; the sender is answered after it.")
	descJMarks     = desc("herald_journal_marks_queued", "\"Pages reached\" records waiting to be written to the journal (an alert counts as pending until its record is in).")
	descJCommitOps = desc("herald_journal_commit_operations_total", "Writes carried by the journal's group commits; divided by herald_journal_commits_total, the mean batch.")
	descRuleErrs   = desc("herald_rule_errors_total", "Runtime failures of each rule since start (a skipped rule or a part left out), by rule name.", "rule")
	descConnected  = desc("herald_ingress_session_connected", "1 while an ingress instance with a connection of its own (the Twitch EventSub WebSocket) has a session up, else 0.", "instance")
)

// MaxRules bounds the rule label: rule names come from the streamer's own
// file, but renames over a long uptime add up; past the bound the rest are
// summed under "other".
const MaxRules = 256

func (s *scraped) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRouted, descDropped, descUnrouted, descExprErrs, descPublished,
		descDuplicates, descRefused, descReloads, descFailed, descLoadedAt, descLastFailed, descRules,
		descRuleErrs, descConnected} {
		ch <- d
	}
	if s.opts.Pages != nil {
		ch <- descPages
		ch <- descCodes
	}
	if s.opts.Journal != nil {
		for _, d := range []*prometheus.Desc{descJEntries, descJRooms, descJBytes, descJErrs, descJHealthy, descJCommits, descJCommitOps} {
			ch <- d
		}
	}
	if s.opts.JournalLag != nil {
		ch <- descJWait
		ch <- descJMarks
	}
	if s.opts.Cluster != nil {
		for _, d := range []*prometheus.Desc{descCConnected, descCDisconn, descCLocalOnly, descCResynced, descCDups,
			descCRoundTrip, descCWaiting, descCJournaled, descCDropped} {
			ch <- d
		}
	}
}

func (s *scraped) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	st := s.opts.Status()
	counter(descRouted, st.Counters.Routed)
	counter(descDropped, st.Counters.Dropped)
	counter(descUnrouted, st.Counters.Unrouted)
	counter(descExprErrs, st.Counters.ExprErrors)
	counter(descReloads, st.Generation)
	counter(descFailed, st.Counters.FailedReloads)
	gauge(descLoadedAt, float64(st.LoadedAt.UnixNano())/1e9)
	gauge(descLastFailed, map[bool]float64{false: 0, true: 1}[st.LastError != nil])
	gauge(descRules, float64(st.Rules))
	for name, t := range st.Traffic {
		counter(descPublished, t.Published, name)
		counter(descDuplicates, t.Duplicates, name)
		var split uint64
		for reason, n := range st.Refusals[name].By {
			counter(descRefused, n, name, reason)
			split += n
		}
		if t.Refused > split { // refusals an adapter counted without a reason
			counter(descRefused, t.Refused-split, name, "unspecified")
		}
	}
	names := make([]string, 0, len(st.RuleErrors))
	for name := range st.RuleErrors {
		names = append(names, name)
	}
	sort.Strings(names)
	var other uint64
	for i, name := range names {
		if i >= MaxRules {
			other += st.RuleErrors[name].Count
			continue
		}
		counter(descRuleErrs, st.RuleErrors[name].Count, name)
	}
	if len(names) > MaxRules {
		counter(descRuleErrs, other, Other)
	}
	for _, in := range st.Instances {
		if in.Connection != nil {
			gauge(descConnected, map[bool]float64{false: 0, true: 1}[in.Connection.State == ingress.StateConnected], in.Name)
		}
	}
	if s.opts.Pages != nil {
		// Both transports are always there, at 0 when no page uses one:
		// an "overlay gone" alert is sum(herald_pages_connected) == 0,
		// which a series that vanished would never fire.
		byTransport := map[string]int{"polling": 0, "websocket": 0}
		codes := map[string]struct{}{}
		for _, c := range s.opts.Pages.Clients() {
			byTransport[c.Transport]++
			if c.Code != "" {
				codes[c.Code] = struct{}{}
			}
		}
		names = names[:0]
		for t := range byTransport {
			names = append(names, t)
		}
		sort.Strings(names)
		for _, t := range names {
			gauge(descPages, float64(byTransport[t]), t)
		}
		gauge(descCodes, float64(len(codes)))
	}
	if s.opts.Journal != nil {
		js := s.opts.Journal()
		gauge(descJEntries, float64(js.Entries))
		gauge(descJRooms, float64(js.Rooms))
		gauge(descJBytes, float64(js.Bytes))
		counter(descJErrs, js.AppendErrors)
		healthy := js.LastError == ""
		if s.opts.JournalHealthy != nil {
			healthy = s.opts.JournalHealthy()
		}
		gauge(descJHealthy, map[bool]float64{false: 0, true: 1}[healthy])
		counter(descJCommits, js.Commits)
		counter(descJCommitOps, js.CommitOps)
	}
	if s.opts.JournalLag != nil {
		lag := s.opts.JournalLag()
		ch <- prometheus.MustNewConstSummary(descJWait, lag.Waits, lag.WaitSeconds, nil)
		gauge(descJMarks, float64(lag.MarksQueued))
	}
	if s.opts.Cluster != nil {
		c := s.opts.Cluster()
		gauge(descCConnected, map[bool]float64{false: 0, true: 1}[c.Connected])
		counter(descCDisconn, c.Disconnects)
		counter(descCLocalOnly, c.LocalOnly)
		counter(descCResynced, c.Resynced)
		counter(descCDups, c.Duplicates)
		counter(descCRoundTrip, c.RoundTrips)
		gauge(descCWaiting, float64(c.OutboxWaiting))
		counter(descCJournaled, c.OutboxJournaled)
		counter(descCDropped, c.OutboxDropped)
	}
}
