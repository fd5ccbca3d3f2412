"""Subscriptions (issue 22): a plan per credential against its API-equivalent spend per
local month, and what the owner bills client keys (a markup, or a rate per 1M tokens),
computed by hand on SQLite and PostgreSQL: events on both sides of a month boundary in
TZ, a plan changed mid-range, an OAuth and an API-key credential, a plan in EUR; bad
bodies; the schema's migration. (A member is refused every owner route:
test_members.test_every_owner_route_answers_403_to_a_member.)"""

import pytest

from conftest import database_env
from cpa_usage import MIGRATIONS, Store, parse_rfc3339_ms
from test_analytics import event
from test_dated_prices import call as request

NOW = "2026-12-07T04:00:00Z"  # 12:00 in Asia/Shanghai; December began at 2026-11-30T16:00Z
OAUTH, APIKEY = "aaaa000000000001", "bbbb000000000002"
ALPHA, BETA = "sk-team-alpha-0001", "sk-team-beta-0002"
PRICE = {"model": "plan-model", "input": 2, "output": 10, "cache_read": 0.2, "cache_write": 2}  # USD per 1M
# (time, credential, key, input tokens, output tokens): cost by hand at 2 in, 10 out
EVENTS = [
    ("2026-10-15T00:00:00Z", OAUTH, ALPHA, 2_000_000, 0),      # October: 4.00
    ("2026-11-30T15:59:00Z", OAUTH, ALPHA, 1_000_000, 100_000),  # 23:59 local, November: 2 + 1 = 3.00
    ("2026-11-30T16:01:00Z", OAUTH, ALPHA, 500_000, 50_000),     # 00:01 local, December: 1 + 0.5 = 1.50
    ("2026-11-10T00:00:00Z", APIKEY, BETA, 100_000, 10_000),     # November: 0.2 + 0.1 = 0.30
]
PLANS = [
    {"auth_index": OAUTH, "name": "Pro", "monthly_price": 20, "from_month": "2026-10"},
    {"auth_index": OAUTH, "name": "Max", "monthly_price": 200, "from_month": "2026-11"},  # changed mid-range
    {"auth_index": APIKEY, "name": "Team", "monthly_price": 100, "currency": "EUR", "usd_rate": 1.1,
     "from_month": "2026-11"},
]
RANGE = "range=custom&start=2026-09-30T16:00:00Z&end=" + NOW  # from October 1st, local


def call(service, method, path, body=None, status=200):
    return request(service, method, path, body, status).json()


@pytest.fixture
def billed(new_database, service_factory):
    service = service_factory(start=False, plain=True, TZ="Asia/Shanghai", **database_env(new_database()))
    service.analytics.clock = lambda: parse_rfc3339_ms(NOW)
    events = [event(ts, model="plan-model", auth_index=index, source=f"{index}@example.com", api_key=key,
                    input_tokens=inp, output_tokens=out) for ts, index, key, inp, out in EVENTS]
    service.store.write_batch(events, [], received=len(events))
    service.store.put_metadata("auth-files", [{"auth_index": OAUTH, "label": "alice@example.com",
                                               "account_type": "oauth"}])
    call(service, "PUT", "/pricing", [PRICE])
    for plan in PLANS:
        call(service, "PUT", "/plans", plan)
    return service


def months(item):
    return [(m["month"], m["plan"]["name"], m["price_usd"], m["api_equivalent_usd"], m["ratio"], m["current"])
            for m in item["months"]]


def test_each_month_compares_the_plan_it_held_with_the_api_equivalent_spend(billed):
    answer = call(billed, "GET", "/plans?" + RANGE)
    assert answer["tz"] == "Asia/Shanghai"
    oauth, apikey = answer["items"]
    assert (oauth["auth_index"], oauth["label"], oauth["oauth"]) == (OAUTH, "alice@example.com", True)
    assert months(oauth) == [("2026-12", "Max", 200.0, 1.5, 0.0075, True),
                             ("2026-11", "Max", 200.0, 3.0, 0.015, False),
                             ("2026-10", "Pro", 20.0, 4.0, 0.2, False)]
    assert oauth["months"][1]["start"] == "2026-10-31T16:00:00.000Z" and oauth["months"][1]["tokens"] == 1_100_000
    assert [(p["from_month"], p["name"], p["currency"], p["usd_rate"]) for p in oauth["plans"]] == [
        ("2026-10", "Pro", "USD", None), ("2026-11", "Max", "USD", None)]
    # 100 EUR at 1.1 USD: 110 USD; held from November, so October has no comparison
    assert (apikey["label"], apikey["oauth"]) == (None, False)
    assert months(apikey) == [("2026-12", "Team", 110.0, 0.0, 0.0, True),
                              ("2026-11", "Team", 110.0, 0.3, 0.0027, False)]

    # a range of the last 24 hours is December alone, still counted from its 1st
    assert [months(item) for item in call(billed, "GET", "/plans?range=24h")["items"]] == [
        [("2026-12", "Max", 200.0, 1.5, 0.0075, True)], [("2026-12", "Team", 110.0, 0.0, 0.0, True)]]
    # the owner's overview: this month of every plan, whatever the range and filters
    overview = call(billed, "GET", "/usage/overview?range=4h&api_key=" + BETA)
    assert [months(item) for item in overview["plans"]] == [[("2026-12", "Max", 200.0, 1.5, 0.0075, True)],
                                                             [("2026-12", "Team", 110.0, 0.0, 0.0, True)]]


def test_a_plan_is_replaced_from_its_month_and_removed(billed):
    saved = call(billed, "PUT", "/plans", {**PLANS[1], "monthly_price": 100})
    assert months(saved) == [("2026-12", "Max", 100.0, 1.5, 0.015, True)]
    assert call(billed, "DELETE", f"/plans?auth_index={OAUTH}&from_month=2026-11") == {"deleted": 1}
    assert months(call(billed, "GET", "/plans?" + RANGE)["items"][0])[0] == ("2026-12", "Pro", 20.0, 1.5, 0.075,
                                                                              True)
    call(billed, "DELETE", f"/plans?auth_index={OAUTH}&from_month=2026-11", status=404)
    assert call(billed, "DELETE", f"/plans?auth_index={APIKEY}") == {"deleted": 1}
    assert [item["auth_index"] for item in call(billed, "GET", "/plans")["items"]] == [OAUTH]


def test_client_keys_are_billed_by_markup_or_by_tokens(billed):
    assert call(billed, "PUT", "/key-billing", {"api_key": ALPHA, "markup": 1.5})["months"][0]["billed_usd"] == 2.25
    call(billed, "PUT", "/key-billing", {"api_key": BETA, "usd_per_million_tokens": 3})
    alpha, beta = call(billed, "GET", "/key-billing?" + RANGE)["items"]
    assert (alpha["api_key"], alpha["markup"], alpha["usd_per_million_tokens"]) == ("sk-te…0001", 1.5, None)
    assert [(m["month"], m["tokens"], m["cost_usd"], m["billed_usd"]) for m in alpha["months"]] == [
        ("2026-12", 550_000, 1.5, 2.25), ("2026-11", 1_100_000, 3.0, 4.5), ("2026-10", 2_000_000, 4.0, 6.0)]
    assert [(m["month"], m["tokens"], m["cost_usd"], m["billed_usd"]) for m in beta["months"]] == [
        ("2026-12", 0, 0.0, 0.0), ("2026-11", 110_000, 0.3, 0.33), ("2026-10", 0, 0.0, 0.0)]
    # a rule replaces the other
    call(billed, "PUT", "/key-billing", {"api_key": beta["api_key_id"], "markup": 2})
    assert call(billed, "GET", "/key-billing?" + RANGE)["items"][1]["usd_per_million_tokens"] is None
    assert call(billed, "DELETE", "/key-billing?api_key=" + ALPHA)["deleted"]["api_key"] == "sk-te…0001"
    call(billed, "DELETE", "/key-billing?api_key=" + ALPHA, status=404)


@pytest.mark.parametrize("body, error, field", [
    ([], "the body must be an object", None),
    ({**PLANS[0], "price": 1}, "unknown plan field price", "price"),
    ({**PLANS[0], "auth_index": " "}, "invalid plan field auth_index", "auth_index"),
    ({**PLANS[0], "name": ""}, "invalid plan field name", "name"),
    ({**PLANS[0], "monthly_price": 0}, "invalid plan field monthly_price", "monthly_price"),
    ({**PLANS[0], "monthly_price": "20"}, "invalid plan field monthly_price", "monthly_price"),
    ({**PLANS[0], "monthly_price": True}, "invalid plan field monthly_price", "monthly_price"),
    ({**PLANS[0], "from_month": "2026-13"}, "invalid plan field from_month", "from_month"),
    ({**PLANS[0], "from_month": None}, "invalid plan field from_month", "from_month"),
    ({**PLANS[0], "currency": "eur", "usd_rate": 1.1}, "invalid plan field currency", "currency"),
    ({**PLANS[0], "currency": "EUR"}, "invalid plan field usd_rate", "usd_rate"),
    ({**PLANS[0], "usd_rate": 1}, "a plan in USD takes no usd_rate", "usd_rate"),
])
def test_a_bad_plan_is_refused_naming_its_field(billed, body, error, field):
    answer = call(billed, "PUT", "/plans", body, status=400)
    assert answer["error"] == error and answer["detail"].get("field") == field


@pytest.mark.parametrize("body, error", [
    ({"api_key": ALPHA}, "key billing takes one of markup or usd_per_million_tokens"),
    ({"api_key": ALPHA, "markup": 1.5, "usd_per_million_tokens": 3},
     "key billing takes one of markup or usd_per_million_tokens"),
    ({"api_key": ALPHA, "markup": -1}, "invalid key billing field markup"),
    ({"api_key": ALPHA, "markup": 1001}, "invalid key billing field markup"),
    ({"api_key": ALPHA, "usd_per_million_tokens": "3"}, "invalid key billing field usd_per_million_tokens"),
    ({"api_key": ALPHA, "rate": 3}, "unknown key billing field rate"),
    ({"markup": 2}, "api_key is required: the key, its alias or its api_key_id"),
])
def test_a_bad_billing_rule_is_refused(billed, body, error):
    assert call(billed, "PUT", "/key-billing", body, status=400)["error"] == error
    call(billed, "DELETE", "/plans?auth_index=aaaa000000000001&from_month=November", status=400)


def test_the_subscriptions_schema_comes_to_a_database_of_before(new_database):
    from test_instances import store_at_schema

    target = new_database()
    store_at_schema(target, len(MIGRATIONS) - 1).close()
    upgraded = Store(target)
    try:
        upgraded.set_plan(OAUTH, {"from_month": "2026-11", "name": "Max", "monthly_price": 200.0,
                                  "currency": "USD", "usd_rate": None})
        upgraded.set_key_billing(ALPHA, {"markup": 1.25, "usd_per_million_tokens": None})
        assert [(plan["from_month"], plan["monthly_price"]) for plan in upgraded.plans()[OAUTH]] == [("2026-11", 200.0)]
        assert upgraded.key_billing() == {ALPHA: {"markup": 1.25, "usd_per_million_tokens": None}}
    finally:
        upgraded.close()
