# Summarises herald-load JSON lines (labels "SCENARIO/SERVER") as a
# tab-separated table: one row per scenario and server (medians over
# repeated runs), then one herald/node ratio row per scenario, and a
# herald/herald-memory row (the journal on disk against in memory) where
# both ran.
def med(f): map(f) | map(select(. != null)) | sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
def fmt(x): if x == null then "-" else (x | tostring) end;
def ratio(a; b): if a != null and b != null and b != 0 then ((a / b * 100 | round) / 100 | tostring) + "x" else "-" end;
def summary: {
  runs: length, ok: all(.ok), mode: .[0].mode, pages: .[0].pages, codes: .[0].codes,
  deliveries_per_s: med(.deliveries_per_s), triggers_per_s: med(.triggers_per_s),
  p50: med(.lat_p50_ms), p99: med(.lat_p99_ms), errors: med(.trigger_errors),
  cpu: med(.server_cpu_s), lcpu: med(.loader_trigger_cpu_s), kb: med(.rss_per_page_kb), alive: med(.alive_after_hold)
};
(["scenario", "server", "pages/codes", "deliveries/s", "triggers/s", "p50 ms", "p99 ms", "errors", "server cpu s", "loader cpu s", "KB/page", "alive", "runs", "ok"] | @tsv),
(group_by(.label | split("/")[0])[] |
  (.[0].label | split("/")[0]) as $s |
  (group_by(.label | split("/")[1]) | map({key: (.[0].label | split("/")[1]), value: summary}) | from_entries) as $by |
  ($by | to_entries[] | .value as $v |
    if $v.mode == "hold" then
      [$s, .key, "\($v.pages)/\($v.codes)", "-", "-", "-", "-", "-", "-", "-", fmt($v.kb), fmt($v.alive), fmt($v.runs), fmt($v.ok)]
    else
      [$s, .key, "\($v.pages)/\($v.codes)",
       fmt($v.deliveries_per_s), fmt($v.triggers_per_s), fmt($v.p50), fmt($v.p99), fmt($v.errors),
       fmt($v.cpu), fmt($v.lcpu), fmt($v.kb), "-", fmt($v.runs), fmt($v.ok)]
    end | @tsv),
  (if $by.herald != null and $by.node != null then
    [$s, "herald/node", "",
     ratio($by.herald.deliveries_per_s; $by.node.deliveries_per_s), ratio($by.herald.triggers_per_s; $by.node.triggers_per_s),
     ratio($by.herald.p50; $by.node.p50), ratio($by.herald.p99; $by.node.p99), "",
     ratio($by.herald.cpu; $by.node.cpu), ratio($by.herald.lcpu; $by.node.lcpu), ratio($by.herald.kb; $by.node.kb), "", "", ""] | @tsv
   else empty end),
  (if $by.herald != null and $by["herald-memory"] != null then
    [$s, "herald/herald-memory", "",
     ratio($by.herald.deliveries_per_s; $by["herald-memory"].deliveries_per_s), ratio($by.herald.triggers_per_s; $by["herald-memory"].triggers_per_s),
     ratio($by.herald.p50; $by["herald-memory"].p50), ratio($by.herald.p99; $by["herald-memory"].p99), "",
     ratio($by.herald.cpu; $by["herald-memory"].cpu), ratio($by.herald.lcpu; $by["herald-memory"].lcpu), ratio($by.herald.kb; $by["herald-memory"].kb), "", "", ""] | @tsv
   else empty end))
