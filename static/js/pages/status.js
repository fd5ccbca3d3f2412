// Status: the drain (mode, last pop, errors), each CPA's drain when there are several,
// record totals, dead letters, CPA's metadata sync, maintenance and versions.

import { act, api } from "../api.js";
import { card, dataTable, facts, h, note, notify, pill } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";

const DEAD_LETTERS_SHOWN = 5;

export default {
  range: null,
  filters: false,
  owner: true,
  async load() {
    const [status, deadLetters] = await Promise.all([api.get("status"),
      api.get("dead-letters", new URLSearchParams({ limit: DEAD_LETTERS_SHOWN }))]);
    return { status, deadLetters };
  },
  render(root, { status, deadLetters }, { reload }) {
    root.append(
      card(t("ingest"), facts(drainFacts(status), "drain-facts"), { id: "drain" }),
      card(t("records"), facts(totalFacts(status.totals), "totals"), { id: "totals-card" }),
      card(t("cpa"), [facts(cpaFacts(status), "cpa-facts"), listTable(status.metadata.lists)],
        { id: "cpa", actions: syncButton(reload) }),
      ...(status.instances.length > 1 ? [card(t("instances_title", { n: status.instances.length }),
        instanceTable(status.instances), { wide: true, id: "instances" })] : []),
      card(t("maintenance"), facts(maintenanceFacts(status.maintenance), "maintenance-facts"), { id: "maintenance" }),
      card(t("about"), facts([
        [t("version"), `cpa-usage ${status.version}`],
        [t("started"), fmt.whenAndAgo(status.started_at)],
        [t("time_zone"), fmt.serverZoneName()],
        [t("api"), h("a", { href: "api/v1/openapi.json" }, "openapi.json")],
        defaultPricesFact(status.default_prices),
      ], "about-facts"), { id: "about" }),
      card(t("dead_letters_title", { n: fmt.int(deadLetters.total) }), deadLetterList(deadLetters), { wide: true, id: "dead-letters" }),
    );
  },
};

/** Which snapshot of the built-in prices is in use, or why there is none. */
function defaultPricesFact(defaults) {
  return defaults.error ? [t("built_in_prices"), defaults.error, "bad"]
    : [t("built_in_prices"), `${defaults.source} ${defaults.version} (${defaults.date})`];
}

export function modeText(mode) {
  return t(`mode_${mode}`);
}

const KEY_KINDS = { rejected: "bad", ok: "ok" };

function drainFacts(status) {
  return [
    [t("instance"), status.instance],
    [t("mode"), modeText(status.mode), status.mode === "down" ? "bad" : "ok"],
    [t("transport"), transportText(status.transport)],
    [t("management_key"), t(`key_${status.auth}`), KEY_KINDS[status.auth] || ""],
    [t("cpa_queue"), `${status.queue.addr} (${status.queue.key})${status.queue.tls ? " TLS" : ""}`],
    [t("subscribed_since"), status.subscribed_since ? fmt.whenAndAgo(status.subscribed_since) : "—"],
    [t("errors_channel"), status.errors_subscribed ? t("subscribed") : t("not_subscribed")],
    [t("last_pop"), fmt.whenAndAgo(status.last_pop_at)],
    [t("last_record"), fmt.whenAndAgo(status.last_event_at)],
    [t("pending"), fmt.int(status.pending)],
    [t("reconnects"), fmt.int(status.reconnects)],
    [t("subscription_drops"), status.subscription_drops
      ? `${fmt.int(status.subscription_drops)} — ${fmt.whenAndAgo(status.last_subscription_drop_at)}` : t("none"),
      status.subscription_drops ? "bad" : ""],
    ...(status.records_lost_warning ? [[t("records_lost"), status.records_lost_warning, "bad"]] : []),
    [t("last_error"), status.last_error ? `${status.last_error} — ${fmt.whenAndAgo(status.last_error_at)}` : t("none"),
      status.last_error ? "bad" : ""],
  ];
}

/** REDIS_QUEUE_TRANSPORT and why the mode in use is used. */
function transportText(transport) {
  return transport.reason ? `${transport.setting}: ${transport.reason}` : transport.setting;
}

/** One row per CPA drained by this process (CPA_INSTANCES). */
function instanceTable(instances) {
  const columns = [
    { label: t("name"), value: (one) => h("strong", {}, one.name) },
    { label: t("cpa_queue"), value: (one) => `${one.queue.addr}${one.queue.tls ? " TLS" : ""}` },
    { label: t("mode"), wrap: true, value: (one) => h("div", { class: "stack" }, pill(modeText(one.mode), one.connected ? "ok" : "bad"),
      one.transport.reason ? h("span", { class: "muted small" }, one.transport.reason) : null) },
    { label: t("management_key"), value: (one) => h("span", { class: "pills" }, pill(t(`key_${one.auth}`), KEY_KINDS[one.auth] || ""),
      one.auth_error ? h("span", { class: "muted small" }, one.auth_error) : null) },
    { label: t("last_record"), value: (one) => fmt.ago(one.last_event_at) },
    { label: t("last_pop"), value: (one) => fmt.ago(one.last_pop_at) },
    { label: t("reconnects"), num: true, value: (one) => fmt.int(one.reconnects) },
    { label: t("last_error"), wrap: true, cls: (one) => (one.last_error ? "bad" : ""),
      value: (one) => (one.last_error ? `${one.last_error} — ${fmt.ago(one.last_error_at)}` : t("none")) },
  ];
  return dataTable(columns, instances, { id: "instance-table", caption: t("instances_title", { n: instances.length }) });
}

function totalFacts(totals) {
  return [
    [t("received"), fmt.int(totals.received)],
    [t("stored"), fmt.int(totals.inserted)],
    [t("duplicates"), fmt.int(totals.duplicates)],
    [t("malformed"), fmt.int(totals.dead_letters), totals.dead_letters ? "bad" : ""],
    [t("control_messages"), fmt.int(totals.control_messages)],
    [t("credential_errors"), fmt.int(totals.credential_errors)],
  ];
}

function cpaFacts(status) {
  const { cpa, metadata } = status;
  const recording = cpa.usage_statistics_enabled;
  return [
    [t("cpa_version"), cpa.version || "—"],
    [t("management_api"), cpa.management_api ? `/${cpa.management_api}/management` : "—"],
    [t("recording"), recording == null ? t("unknown") : recording ? t("yes") : t("no"), recording === false ? "bad" : recording ? "ok" : ""],
    [t("queue_retention"), cpa.queue_retention_s == null ? "—" : fmt.duration(cpa.queue_retention_s * 1000)],
    ...(metadata.absent.length ? [[t("lists_absent"), metadata.absent.join(", ")]] : []),
    [t("last_sync"), fmt.whenAndAgo(metadata.last_run_at)],
    [t("last_sync_ok"), fmt.whenAndAgo(metadata.last_success_at)],
    [t("sync_error"), metadata.last_error ? `${metadata.last_error} — ${fmt.whenAndAgo(metadata.last_error_at)}` : t("none"),
      metadata.last_error ? "bad" : ""],
  ];
}

function listTable(lists) {
  const rows = Object.entries(lists).map(([name, fetched]) => ({ name, fetched }));
  return h("details", {}, h("summary", {}, t("lists_fetched", { n: rows.length })),
    dataTable([{ label: t("list"), value: (row) => h("code", {}, row.name) },
      { label: t("fetched"), value: (row) => fmt.whenAndAgo(row.fetched) }], rows));
}

function syncButton(reload) {
  const button = h("button", { type: "button", id: "sync-now", class: "small" }, t("sync_now"));
  button.addEventListener("click", () => {
    button.disabled = true;
    act(async () => {
      await api.post("sync");
      notify(t("synced"));
      reload();
    }, (error) => {
      button.disabled = false;
      notify(error.message, "bad");
    });
  });
  return button;
}

function maintenanceFacts(maintenance) {
  const days = (value) => (value == null ? "—" : value === 0 ? t("forever") : t("n_days", { n: value, count: value }));
  return [
    [t("last_run"), fmt.whenAndAgo(maintenance.last_run_at)],
    [t("removed"), maintenance.last_removed == null ? "—" : t("removed_counts", {
      events: fmt.int(maintenance.last_removed.events), dead: fmt.int(maintenance.last_removed.dead_letters),
      errors: fmt.int(maintenance.last_removed.credential_errors), rollups: fmt.int(maintenance.last_removed.rollup_rows) })],
    [t("next_run"), fmt.dateTime(maintenance.next_run_at, false)],
    [t("keep_events"), days(maintenance.usage_retention_days)],
    [t("keep_rollups"), days(maintenance.rollup_retention_days)],
  ];
}

function deadLetterList({ items, total }) {
  if (!total) return note(t("no_dead_letters"));
  return h("div", {}, note(t("dead_letters_help", { n: items.length })),
    h("ol", { class: "dead-letters" }, items.map((item) => h("li", {},
      h("div", {}, h("strong", {}, item.reason), h("span", { class: "muted" }, ` · ${item.via} · ${fmt.whenAndAgo(item.received_at)}`)),
      h("pre", { class: "raw" }, item.payload)))));
}
