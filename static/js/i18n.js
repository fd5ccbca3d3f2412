// Every visible string, in English and Simplified Chinese, and Traditional Chinese made
// from the Simplified by tools/zh_tw.py (zh-tw.js). The choice is kept in localStorage;
// "{name}" in a string is replaced by t(key, {name: ...}).

import zhTW from "./zh-tw.js";

const en = {
  // shell
  skip_to_content: "Skip to content", pages: "Pages", auto_refresh: "Auto-refresh", refresh_off: "Refresh: off",
  refresh_10: "Refresh: 10 s", refresh_30: "Refresh: 30 s", refresh_60: "Refresh: 60 s", theme: "Theme",
  theme_auto: "Theme: auto", theme_light: "Theme: light", theme_dark: "Theme: dark", language: "Language",
  sign_in: "Sign in", sign_out: "Sign out", password: "Password", close: "Close",
  recording_off: "CPA is not recording usage: its usage-statistics-enabled is off, so every record is dropped.",
  turn_it_on: "Turn it on",
  key_rejected_banner: "CPA rejected the management key ({reason}). Fix CPA_MANAGEMENT_KEY and restart; the next automatic attempt is at {when}.",
  database_stalled: "The database refuses writes; records are kept in memory until it recovers.",
  unreachable: "cpa-usage did not answer: {error}",
  did_not_answer: "cpa-usage did not answer ({error}). Is it running, and is this machine online?",
  times_in: "Times in {zone}", plus_unpriced: "+ {n} unpriced", tokens_unit: "tokens",
  active_alerts: "Active alerts (today and this month)", all_alerts: "All alerts and budgets",
  instance_none: "imported (no instance)",
  price_per_m: "Price per 1M tokens (now)", price_in_out: "{input} in · {output} out", matched_by: "by {pattern}",
  live_title: "Last 60 minutes, live", live_failed: "The live minutes could not be read: {error}",
  live_summary: { one: "{requests} request, {failed} failed, {tokens} tokens", other: "{requests} requests, {failed} failed, {tokens} tokens" },
  vs_previous: "{change} vs {period}", no_change: "no change from the previous period",
  none_before: "none in {period}", previous_was: "{period}: {value}", previous_span: "the previous {span}",
  yesterday_so_far: "yesterday at this time",
  compare_previous: "Compare with the previous period", previous_period: "Previous period",
  span_days: { one: "{n} day", other: "{n} days" }, span_hours: { one: "{n} hour", other: "{n} hours" },
  span_minutes: { one: "{n} minute", other: "{n} minutes" },
  active_alerts_n: { one: "{n} active alert", other: "{n} active alerts" },
  bad_link_value: "This link asks for {parameter} = “{value}”, which the dashboard cannot show.",
  server_said: "The server could not answer ({status}): {error}", expected_is: "Expected: {expected}.",
  one_of: "one of {choices}", retry: "Retry", drop_parameter: "Open it without {parameter}",
  conn_key_rejected: "key rejected", conn_not_recording: "not recording", last_pop_was: "Last pop: {when}",
  page_overview: "Overview", page_health: "Health", page_analysis: "Analysis", page_events: "Events",
  page_credentials: "Credentials", page_models: "Models & prices", page_aliases: "Aliases", page_status: "Status",
  // filters
  time_range: "Time range", range_today: "Today", range_all: "All time", range_custom: "Custom…",
  last_hours: "Last {n} hours", last_days: "Last {n} days", custom_start: "Start", custom_end: "End", apply: "Apply",
  custom_invalid: "Choose a start and an end after it.", search: "Search", clear_selection: "Clear selection",
  all: "All", no_matches: "Nothing matches", loading: "Loading…", reset_filters: "Reset filters",
  model: "Model", credential: "Credential", api_key: "API key", result: "Result", success: "Success", failed: "Failed",
  stream: "Stream", streamed: "Streamed", not_streamed: "Not streamed",
  // numbers and cards
  requests: "Requests", tokens: "Tokens", cost: "Cost", rpm: "Requests / min", tpm: "Tokens / min",
  avg_latency: "Avg latency", avg_ttft: "Avg TTFT", latency: "Latency", input: "Input", cache_read: "Cache read",
  cache_write: "Cache write", output: "Output", total_tokens: "Total tokens", success_rate: "Success rate",
  success_rate_is: "{rate} success", n_failed: "{n} failed", n_requests: { one: "{n} request", other: "{n} requests" },
  cache_hit_is: "cache hit {rate}", avg_ttft_is: "first token after {ttft}", rpm_note: "average over the range",
  tpm_note: "average over the range", cost_note: "from your prices and the defaults",
  unpriced_note: { one: "+ {n} request without a price ({models})", other: "+ {n} requests without a price ({models})" },
  unpriced_requests: { one: "{n} request without a price", other: "{n} requests without a price" },
  hourly: "By hour", daily: "By day", chart_metric: "Chart shows", health_grid: "Health, 15-minute cells",
  nothing_to_chart: "No {metric} in this range.",
  chart_alt: "{chart}, {n} bars from {first} to {last}. Totals: {totals}. Busiest: {busiest}.",
  bars_alt: "{chart}: {rows}.",
  grid_keys: "Arrow keys move between cells", legend_ok: "healthy (stronger: busier)", legend_warn: "90–99% success",
  legend_bad: "under 90% success", legend_empty: "no requests", no_data: "No requests in this range.",
  // health
  year: "The last 365 days", year_summary: "{requests} requests, {failed} failed, on {active} active days.",
  busiest_day: "Busiest: {day} ({n}).", less: "Less", more: "More", legend_failing: "10% or more failed",
  pick_hint: "Click a day (or press Enter) for its 5-minute detail.", pick_a_day: "Pick a day above to see its 5-minute detail.",
  close_day: "Close", day_detail: "5-minute cells of the day",
  // analysis
  group_by: "Group by", group_model: "Model", group_api: "API key", group_both: "API key × model",
  first_rows: "{metric} of the first {n} rows", n_rows: { one: "{n} row", other: "{n} rows" }, total: "Total", no_key: "(no key)",
  pagination: "Pages", previous: "Previous", next: "Next", page_of: "Page {page} of {pages}",
  // events
  time: "Time", name: "Name", ok: "ok", unpriced: "unpriced", n_in_all: "({n} in all)",
  no_events: "No events yet. They appear here a moment after CPA serves a request.",
  status_code_is: "status {code}", no_body: "No response body was recorded.",
  // credentials
  provider: "Provider", state: "State", last_success: "Last success", last_failure: "Last failure",
  disabled: "disabled", unavailable: "unavailable", active: "active", config_key: "config key",
  not_listed: "not in CPA's lists", retry_after: "retry after {when}", requests_by_credential: "Requests by credential",
  auth_files_fetched: "CPA's credential list as of {when}.",
  quota_exhausted: "quota exhausted", cpa_reported: "CPA, {when}", until: "until {when}",
  credential_errors_title: "Credential errors reported by CPA ({n})", status_code: "Status", cpa_state: "CPA's state",
  error: "Error", errors_column: "Errors", newest_n_of: "The newest {n} of {total}.",
  no_credential_errors: "None in this range. (CPA sends them on its errors channel, over RESP, from v7.1.44.)",
  // models and prices
  models_in_use: "Models",
  n_unpriced: { one: "{n} model has no price: its cost is unknown, not zero.", other: "{n} models have no price: their cost is unknown, not zero." },
  owner: "Owner", offered_by_cpa: "Offered by CPA", price: "Price", source_default: "default", source_user: "yours",
  set_price: "Set price", your_prices: "Your prices", prices: "Prices", no_prices: "You have not set any price yet.",
  prices_help: "USD per million tokens. A name may use * as a wildcard (gpt-5*); the most specific match wins, and your prices win over the defaults. A price is in force from its date (a UTC day; none: since always) until the model's next one, so a price change leaves the cost of earlier days as it was. Leave reasoning empty to bill it as output.",
  model_or_pattern: "Model or pattern", price_input: "Input", price_output: "Output", price_cache_read: "Cache read",
  price_cache_write: "Cache write", price_reasoning: "Reasoning", as_output: "as output", save_price: "Save price",
  clear: "Clear", model_required: "Enter a model name or pattern.", price_saved: "Price saved for {model}.",
  price_deleted: "Price removed for {model}.", actions: "Actions", edit: "Edit", override: "Override",
  delete: "Delete", confirm_delete: "Really delete?", default_prices: "Built-in prices (list prices of {date})",
  show_defaults: "Show the {n} built-in prices",
  price_from: "In force from", since_always: "always", price_effective_from: "From (UTC day)",
  price_replace_history: "Re-price all history (removes its other prices)", price_from_date: "New price from…",
  // aliases
  alias: "Alias", alias_for: "Alias for {key}", no_alias: "no alias", save: "Save", first_seen: "First seen",
  last_seen: "Last seen", aliases_help: "Give client API keys a readable name; it is shown instead of the masked key everywhere.",
  no_keys: "No client API key has been seen yet.", alias_saved: "Alias “{alias}” saved.", alias_deleted: "Alias removed.",
  export_import: "Export and import", export_file: "Export to a file",
  export_help: "Saves every alias as a JSON document that another cpa-usage can import.", import_file: "Alias file (JSON)",
  import_mode: "Import mode", import_merge: "Merge: add and update, keep the others",
  import_replace: "Replace: the file becomes the whole list", import: "Import", choose_file: "Choose a file first.",
  not_json: "The file is not JSON: {error}",
  import_done: "Imported: {added} added, {updated} updated, {unchanged} unchanged, {removed} removed.",
  // status
  ingest: "Ingest", records: "Records", mode: "Mode", mode_subscribe: "subscribed (push)", mode_lpop: "polling (LPOP)",
  mode_http: "polling (HTTP queue)", transport: "Transport", errors_channel: "Errors channel", subscribed: "subscribed",
  not_subscribed: "not subscribed", subscription_drops: "Subscription closed by CPA", records_lost: "Records lost",
  management_api: "Management API", queue_retention: "CPA keeps undrained records", lists_absent: "Lists this CPA lacks",
  credential_errors: "Credential errors",
  removed_counts: "{events} events, {dead} malformed records, {errors} credential errors, {rollups} rollup rows",
  mode_down: "not connected", management_key: "Management key", key_ok: "accepted", key_rejected: "rejected",
  key_unknown: "not tried yet", cpa_queue: "CPA queue", subscribed_since: "Subscribed since", last_pop: "Last pop",
  last_record: "Last record", pending: "Waiting to be written", reconnects: "Reconnects", last_error: "Last error",
  none: "none", never: "never", received: "Received", stored: "Stored", duplicates: "Duplicates skipped",
  malformed: "Malformed (kept aside)", control_messages: "Control messages", cpa: "CPA", cpa_version: "CPA version",
  recording: "Recording usage", unknown: "unknown", yes: "yes", no: "no", last_sync: "Last metadata sync",
  last_sync_ok: "Last successful sync", sync_error: "Sync error", lists_fetched: "Lists fetched: {n}",
  list: "List", fetched: "Fetched", sync_now: "Sync now", synced: "CPA's lists were refreshed.",
  maintenance: "Maintenance", last_run: "Last run", removed: "Removed", next_run: "Next run",
  keep_events: "Raw events kept", keep_rollups: "Rollups kept", forever: "forever", n_days: { one: "{n} day", other: "{n} days" },
  dead_letters_title: "Malformed records ({n})", no_dead_letters: "None: every record could be read.",
  dead_letters_help: "The last {n}, raw, as CPA sent them.", about: "About", version: "Version", started: "Started",
  time_zone: "Time zone", api: "API",
  // members, several CPAs
  sign_in_with: "Sign in with", owner_password: "Owner password", your_api_key: "Your CPA API key",
  cpa_api_key: "CPA API key", key_login_help: "Sign in with the client API key you use with CPA to see your own usage.",
  signed_in_as: "Signed in as", instance: "Instance", page_budgets: "Budgets & alerts", page_import: "Import & export",
  conn_some_down: "{n} of {total} down", conn_all_up: "{n} connected", instances_title: "CPA instances ({n})",
  // budgets and alerts
  budgets: "Budgets", your_budget: "Your budget", your_alerts: "Your alerts", key_budget: "Budget of this key", budget_daily: "Today", budget_monthly: "This month",
  usd_of: "{spent} of {limit}", tokens_of: "{spent} of {limit} tokens",
  budgets_help: "Daily and monthly limits per client API key, in USD and/or tokens, over the days and months of {zone}. Leave a limit empty for none; one is needed at least. Alerts are raised at 80% and 100% of each limit.",
  no_budgets: "No budget yet.", choose_key: "Choose a key…", no_limit: "no limit", limit_api_key: "API key",
  limit_daily_usd: "Daily limit (USD)", limit_monthly_usd: "Monthly limit (USD)", limit_daily_tokens: "Daily limit (tokens)",
  limit_monthly_tokens: "Monthly limit (tokens)", save_budget: "Save budget", not_a_number: "Enter a number.",
  budget_saved: "Budget saved for {key}.", budget_deleted: "Budget removed for {key}.", alerts: "Alerts",
  webhook_on: "Alerts are also POSTed to the webhook (ALERT_WEBHOOK_URL).",
  webhook_off: "No webhook is set (ALERT_WEBHOOK_URL): alerts are only shown here.", no_alerts: "No alert yet.",
  created: "Created", alert: "Alert", period: "Period", value_threshold: "Value / threshold", delivery: "Webhook",
  alert_usd_80: "80% of the USD limit", alert_usd_100: "USD limit reached", alert_tokens_80: "80% of the token limit",
  alert_tokens_100: "Token limit reached", alert_last_hour_usd: "Unusual spend in the last hour",
  period_daily: "Day {label}", period_monthly: "Month {label}", period_day: "Day {label}", sent_at: "sent {when}",
  delivery_failed: { one: "failed once", other: "failed {n} times" }, delivery_pending: "pending",
  idle_keys: { one: "Idle keys (unused for {n} day)", other: "Idle keys (unused for {n} days)" },
  no_idle_keys: "No idle key.", last_used: "Last used", idle_for: "Idle for", never_used: "never used",
  in_cpa_list: "In CPA's key list",
  // import and export
  import_title: "Import usage records",
  import_help: "A usage export of CPA v6.9 or older (.json), JSON Lines of queue payloads of any era, or a jsonl export of cpa-usage (.jsonl). The file is checked whole first: one that is not valid changes nothing. Records already stored are not added twice.",
  usage_file: "Usage file (.json or .jsonl)", importing: "Importing {name}…",
  import_added: { one: "{name}: {n} event added.", other: "{name}: {n} events added." }, import_of: "Import of {name}",
  read: "Read", added: "Added", already_there: "Already there", rejected: "Rejected",
  rejected_kept: "Rejected records are kept with the malformed records (see Status).", export_title: "Export",
  export_events_help: { one: "{n} event matches the filters above; oldest first.", other: "{n} events match the filters above; oldest first." },
  export_analysis_help: "Every row of the analysis of the filters above.", export_csv: "Download CSV", export_jsonl: "Download JSONL",
  jsonl_help: "Every stored column, client keys in clear: it imports back losslessly.",
};

const zh = {
  skip_to_content: "跳到内容", pages: "页面", auto_refresh: "自动刷新", refresh_off: "刷新：关",
  refresh_10: "刷新：10 秒", refresh_30: "刷新：30 秒", refresh_60: "刷新：60 秒", theme: "主题",
  theme_auto: "主题：自动", theme_light: "主题：浅色", theme_dark: "主题：深色", language: "语言",
  sign_in: "登录", sign_out: "退出登录", password: "密码", close: "关闭",
  recording_off: "CPA 没有记录用量：它的 usage-statistics-enabled 已关闭，所有记录都会被丢弃。",
  turn_it_on: "开启",
  key_rejected_banner: "CPA 拒绝了管理密钥（{reason}）。请修正 CPA_MANAGEMENT_KEY 并重启；下次自动尝试时间为 {when}。",
  database_stalled: "数据库拒绝写入；记录暂存在内存中，直到数据库恢复。",
  unreachable: "cpa-usage 没有响应：{error}",
  did_not_answer: "cpa-usage 没有响应（{error}）。它在运行吗？本机联网了吗？",
  times_in: "时间按 {zone}", plus_unpriced: "+ {n} 个未定价", tokens_unit: "Token",
  active_alerts: "当前告警（今天和本月）", all_alerts: "全部告警和预算",
  instance_none: "导入（无实例）",
  price_per_m: "每百万 Token 价格（当前）", price_in_out: "输入 {input} · 输出 {output}", matched_by: "匹配 {pattern}",
  live_title: "最近 60 分钟（实时）", live_failed: "无法读取实时数据：{error}",
  live_summary: "{requests} 次请求，{failed} 次失败，{tokens} Token",
  vs_previous: "较{period} {change}", no_change: "与上一周期持平",
  none_before: "{period}为零", previous_was: "{period}：{value}", previous_span: "前 {span}",
  yesterday_so_far: "昨天同一时段",
  compare_previous: "与上一周期比较", previous_period: "上一周期",
  span_days: "{n} 天", span_hours: "{n} 小时", span_minutes: "{n} 分钟",
  active_alerts_n: "{n} 条当前告警",
  bad_link_value: "此链接要求 {parameter} = “{value}”，仪表盘无法显示。",
  server_said: "服务器无法回答（{status}）：{error}", expected_is: "应为：{expected}。",
  one_of: "以下之一：{choices}", retry: "重试", drop_parameter: "去掉 {parameter} 后打开",
  conn_key_rejected: "密钥被拒", conn_not_recording: "未记录", last_pop_was: "上次拉取：{when}",
  page_overview: "概览", page_health: "健康", page_analysis: "分析", page_events: "事件",
  page_credentials: "凭据", page_models: "模型与价格", page_aliases: "别名", page_status: "状态",
  time_range: "时间范围", range_today: "今天", range_all: "全部", range_custom: "自定义…",
  last_hours: "最近 {n} 小时", last_days: "最近 {n} 天", custom_start: "开始", custom_end: "结束", apply: "应用",
  custom_invalid: "请选择开始时间和晚于它的结束时间。", search: "搜索", clear_selection: "清除选择",
  all: "全部", no_matches: "没有匹配项", loading: "加载中…", reset_filters: "重置筛选",
  model: "模型", credential: "凭据", api_key: "API 密钥", result: "结果", success: "成功", failed: "失败",
  stream: "流式", streamed: "流式", not_streamed: "非流式",
  requests: "请求", tokens: "Token", cost: "费用", rpm: "每分钟请求", tpm: "每分钟 Token",
  avg_latency: "平均延迟", avg_ttft: "平均首字延迟", latency: "延迟", input: "输入", cache_read: "缓存读取",
  cache_write: "缓存写入", output: "输出", total_tokens: "Token 总数", success_rate: "成功率",
  success_rate_is: "成功率 {rate}", n_failed: "{n} 次失败", n_requests: "{n} 次请求",
  cache_hit_is: "缓存命中 {rate}", avg_ttft_is: "首个 Token 用时 {ttft}", rpm_note: "按所选范围平均",
  tpm_note: "按所选范围平均", cost_note: "按你的价格和默认价格计算",
  unpriced_note: "另有 {n} 次请求没有价格（{models}）", unpriced_requests: "{n} 次请求没有价格",
  hourly: "按小时", daily: "按天", chart_metric: "图表显示", health_grid: "健康状况（每格 15 分钟）",
  nothing_to_chart: "此范围内{metric}为零。",
  chart_alt: "{chart}，{n} 个柱，从 {first} 到 {last}。合计：{totals}。最多：{busiest}。",
  bars_alt: "{chart}：{rows}。",
  grid_keys: "用方向键在格子之间移动", legend_ok: "正常（颜色越浓越忙）", legend_warn: "成功率 90–99%",
  legend_bad: "成功率低于 90%", legend_empty: "无请求", no_data: "此范围内没有请求。",
  year: "最近 365 天", year_summary: "{requests} 次请求，{failed} 次失败，{active} 天有活动。",
  busiest_day: "最忙：{day}（{n}）。", less: "少", more: "多", legend_failing: "失败 10% 或更多",
  pick_hint: "点击某一天（或按回车）查看 5 分钟明细。", pick_a_day: "在上方选择一天查看 5 分钟明细。",
  close_day: "关闭", day_detail: "当天每 5 分钟的格子",
  group_by: "分组", group_model: "模型", group_api: "API 密钥", group_both: "API 密钥 × 模型",
  first_rows: "前 {n} 行的{metric}", n_rows: "{n} 行", total: "合计", no_key: "（无密钥）",
  pagination: "分页", previous: "上一页", next: "下一页", page_of: "第 {page} / {pages} 页",
  time: "时间", name: "名称", ok: "成功", unpriced: "未定价", n_in_all: "（共 {n} 条）",
  no_events: "还没有事件。CPA 处理请求后片刻就会出现在这里。",
  status_code_is: "状态码 {code}", no_body: "没有记录响应内容。",
  provider: "提供方", state: "状态", last_success: "最近成功", last_failure: "最近失败",
  disabled: "已禁用", unavailable: "不可用", active: "正常", config_key: "配置密钥",
  not_listed: "不在 CPA 的列表中", retry_after: "{when} 后重试", requests_by_credential: "各凭据的请求",
  auth_files_fetched: "CPA 凭据列表获取于 {when}。",
  quota_exhausted: "额度已用尽", cpa_reported: "CPA 报告于 {when}", until: "至 {when}",
  credential_errors_title: "CPA 报告的凭据错误（{n}）", status_code: "状态", cpa_state: "CPA 的状态", error: "错误", errors_column: "错误",
  newest_n_of: "最新 {n} 条，共 {total} 条。",
  no_credential_errors: "此范围内没有。（CPA 从 v7.1.44 起通过 RESP 的 errors 通道发送。）",
  models_in_use: "模型", n_unpriced: "{n} 个模型没有价格：它们的费用未知，而不是零。",
  owner: "所有者", offered_by_cpa: "CPA 提供", price: "价格", source_default: "默认", source_user: "自定义",
  set_price: "设置价格", your_prices: "你的价格", prices: "价格", no_prices: "你还没有设置任何价格。",
  prices_help: "单位为每百万 Token 的美元价格。名称可用 * 通配（gpt-5*）；最具体的匹配优先，你的价格优先于默认价格。价格从其生效日期（UTC 日；不填：一直）起生效，直到该模型的下一个价格，因此改价不会改变之前各天的费用。推理留空则按输出计费。",
  model_or_pattern: "模型或通配名", price_input: "输入", price_output: "输出", price_cache_read: "缓存读取",
  price_cache_write: "缓存写入", price_reasoning: "推理", as_output: "同输出", save_price: "保存价格",
  clear: "清空", model_required: "请输入模型名称或通配名。", price_saved: "已保存 {model} 的价格。",
  price_deleted: "已删除 {model} 的价格。", actions: "操作", edit: "编辑", override: "覆盖",
  delete: "删除", confirm_delete: "确定删除？", default_prices: "内置价格（{date} 的标价）",
  show_defaults: "显示 {n} 个内置价格",
  price_from: "生效日期", since_always: "一直", price_effective_from: "生效日（UTC）",
  price_replace_history: "重新计价全部历史（删除它的其他价格）", price_from_date: "从某日起的新价格…",
  alias: "别名", alias_for: "{key} 的别名", no_alias: "无别名", save: "保存", first_seen: "首次出现",
  last_seen: "最近出现", aliases_help: "为客户端 API 密钥起一个易读的名字；各处都会用它代替打码的密钥。",
  no_keys: "还没有见到任何客户端 API 密钥。", alias_saved: "别名“{alias}”已保存。", alias_deleted: "别名已删除。",
  export_import: "导出与导入", export_file: "导出为文件",
  export_help: "把所有别名保存为 JSON 文档，可导入到另一个 cpa-usage。", import_file: "别名文件（JSON）",
  import_mode: "导入方式", import_merge: "合并：新增并更新，保留其他别名",
  import_replace: "替换：以文件内容作为完整列表", import: "导入", choose_file: "请先选择文件。",
  not_json: "文件不是 JSON：{error}",
  import_done: "已导入：新增 {added}，更新 {updated}，未变 {unchanged}，删除 {removed}。",
  ingest: "采集", records: "记录", mode: "模式", mode_subscribe: "已订阅（推送）", mode_lpop: "轮询（LPOP）",
  mode_http: "轮询（HTTP 队列）", transport: "传输方式", errors_channel: "错误通道", subscribed: "已订阅",
  not_subscribed: "未订阅", subscription_drops: "被 CPA 关闭的订阅", records_lost: "丢失的记录",
  management_api: "管理 API", queue_retention: "CPA 保留未取走记录的时长", lists_absent: "此 CPA 没有的列表",
  credential_errors: "凭据错误",
  removed_counts: "{events} 个事件、{dead} 条格式错误的记录、{errors} 个凭据错误、{rollups} 行汇总",
  mode_down: "未连接", management_key: "管理密钥", key_ok: "已接受", key_rejected: "被拒绝",
  key_unknown: "尚未尝试", cpa_queue: "CPA 队列", subscribed_since: "订阅开始于", last_pop: "上次拉取",
  last_record: "最近记录", pending: "等待写入", reconnects: "重连次数", last_error: "最近错误",
  none: "无", never: "从未", received: "已接收", stored: "已保存", duplicates: "跳过的重复",
  malformed: "格式错误（另存）", control_messages: "控制消息", cpa: "CPA", cpa_version: "CPA 版本",
  recording: "记录用量", unknown: "未知", yes: "是", no: "否", last_sync: "最近元数据同步",
  last_sync_ok: "最近成功同步", sync_error: "同步错误", lists_fetched: "已获取 {n} 个列表",
  list: "列表", fetched: "获取时间", sync_now: "立即同步", synced: "已刷新 CPA 的列表。",
  maintenance: "维护", last_run: "上次运行", removed: "已删除", next_run: "下次运行",
  keep_events: "原始事件保留", keep_rollups: "汇总保留", forever: "永久", n_days: "{n} 天",
  dead_letters_title: "格式错误的记录（{n}）", no_dead_letters: "无：所有记录都能读取。",
  dead_letters_help: "最近 {n} 条，按 CPA 发送的原样显示。", about: "关于", version: "版本", started: "启动于",
  time_zone: "时区", api: "API",
  sign_in_with: "登录方式", owner_password: "管理员密码", your_api_key: "你的 CPA API 密钥",
  cpa_api_key: "CPA API 密钥", key_login_help: "使用你在 CPA 中使用的客户端 API 密钥登录，查看你自己的用量。",
  signed_in_as: "当前登录：", instance: "实例", page_budgets: "预算与告警", page_import: "导入与导出",
  conn_some_down: "{total} 个中 {n} 个断开", conn_all_up: "{n} 个已连接", instances_title: "CPA 实例（{n}）",
  budgets: "预算", your_budget: "你的预算", your_alerts: "你的告警", key_budget: "此密钥的预算", budget_daily: "今天", budget_monthly: "本月",
  usd_of: "{spent} / {limit}", tokens_of: "{spent} / {limit} Token",
  budgets_help: "为每个客户端 API 密钥设置每日和每月限额（美元和/或 Token），按 {zone} 的日期和月份计算。留空表示不限；至少需要一项。达到每项限额的 80% 和 100% 时会产生告警。",
  no_budgets: "还没有预算。", choose_key: "选择密钥…", no_limit: "不限", limit_api_key: "API 密钥",
  limit_daily_usd: "每日限额（美元）", limit_monthly_usd: "每月限额（美元）", limit_daily_tokens: "每日限额（Token）",
  limit_monthly_tokens: "每月限额（Token）", save_budget: "保存预算", not_a_number: "请输入数字。",
  budget_saved: "已保存 {key} 的预算。", budget_deleted: "已删除 {key} 的预算。", alerts: "告警",
  webhook_on: "告警也会 POST 到 Webhook（ALERT_WEBHOOK_URL）。",
  webhook_off: "未设置 Webhook（ALERT_WEBHOOK_URL）：告警只显示在这里。", no_alerts: "还没有告警。",
  created: "产生时间", alert: "告警", period: "周期", value_threshold: "数值 / 阈值", delivery: "Webhook",
  alert_usd_80: "达到美元限额的 80%", alert_usd_100: "达到美元限额", alert_tokens_80: "达到 Token 限额的 80%",
  alert_tokens_100: "达到 Token 限额", alert_last_hour_usd: "最近一小时花费异常",
  period_daily: "日 {label}", period_monthly: "月 {label}", period_day: "日 {label}", sent_at: "已发送（{when}）",
  delivery_failed: "失败 {n} 次", delivery_pending: "等待发送",
  idle_keys: "闲置密钥（{n} 天未使用）", no_idle_keys: "没有闲置密钥。", last_used: "最近使用", idle_for: "闲置",
  never_used: "从未使用", in_cpa_list: "在 CPA 密钥列表中",
  import_title: "导入用量记录",
  import_help: "CPA v6.9 及更早版本的用量导出（.json）、任意版本队列负载的 JSON Lines，或 cpa-usage 的 jsonl 导出（.jsonl）。文件会先被完整检查：无效的文件不会改变任何内容。已保存的记录不会重复添加。",
  usage_file: "用量文件（.json 或 .jsonl）", importing: "正在导入 {name}…", import_added: "{name}：新增 {n} 个事件。",
  import_of: "{name} 的导入结果", read: "读取", added: "新增", already_there: "已存在", rejected: "拒绝",
  rejected_kept: "被拒绝的记录与格式错误的记录保存在一起（见“状态”）。", export_title: "导出",
  export_events_help: "{n} 个事件符合上方筛选条件；按时间从早到晚。", export_analysis_help: "上方筛选条件下分析的每一行。",
  export_csv: "下载 CSV", export_jsonl: "下载 JSONL", jsonl_help: "包含所有保存的字段，客户端密钥为明文：可无损导入回来。",
};

export const DICTIONARIES = { en, "zh-CN": zh, "zh-TW": zhTW }; // exported for the test that compares their keys
const STORAGE_KEY = "cpa-usage-lang";

function initial() {
  const stored = localStorage.getItem(STORAGE_KEY);
  if (stored in DICTIONARIES) return stored;
  const browser = navigator.language?.toLowerCase() ?? "";
  if (/^zh-(tw|hk|mo|hant)/.test(browser)) return "zh-TW";
  return browser.startsWith("zh") ? "zh-CN" : "en";
}

let current = initial();

export function language() {
  return current;
}

/** The locale of numbers and dates. */
export function locale() {
  return current === "en" ? "en-US" : current;
}

export function setLanguage(name) {
  current = name in DICTIONARIES ? name : "en";
  localStorage.setItem(STORAGE_KEY, current);
  translateStatic();
}

/** A string; one with plural forms ({one, other}) is chosen by params.count. */
export function t(key, params = {}) {
  let text = DICTIONARIES[current][key] ?? en[key] ?? key;
  if (typeof text === "object") text = text[new Intl.PluralRules(locale()).select(params.count ?? 0)] ?? text.other;
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in params ? String(params[name]) : match));
}

/** The fixed texts of index.html: data-i18n (text) and data-i18n-aria-label. */
export function translateStatic() {
  document.documentElement.lang = current;
  for (const element of document.querySelectorAll("[data-i18n]")) element.textContent = t(element.dataset.i18n);
  for (const element of document.querySelectorAll("[data-i18n-aria-label]")) {
    element.setAttribute("aria-label", t(element.dataset.i18nAriaLabel));
  }
}
