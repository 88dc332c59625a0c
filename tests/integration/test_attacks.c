/* The attacks of issue 7 at reduced size (tests/stress/, shared with `make
 * stress`), each against a broker with small limits where a limit applies.
 * Every test asserts what a user would notice: a canary client doing QoS 1
 * round trips every 0.5 s loses none (liveness, no latency numbers), the
 * broker survives and exits 0 on SIGTERM (teardown), and the memory the
 * attack makes the broker hold stays under a bound derived from the
 * configured budget (not asserted under ASan, whose shadow memory and
 * quarantine distort RSS). */
#include <string.h>

#include "tests/integration/harness.h"
#include "tests/stress/attack.h"

#define MIB (1024L * 1024)
/* RSS the broker may grow beyond its configured budget: allocator slack,
 * read buffers, per-connection structs at these sizes. */
#define SLACK_KB (24L * 1024)

static void restart_with(struct itest *t, const char *limits)
{
    struct broker_cfg cfg = {.extra_limits = limits};
    it_restart(t, &cfg);
}

/* Run attack id at size sz and check what holds for every attack. */
static void run(struct itest *t, int id, const struct attack_size *sz, struct attack_result *r)
{
    assert_true(attack_run(id, sz, it_port(t), t->broker.pid, r));
    print_message("  %s: %s; RSS +%ld KiB; canary %d done, %d lost, worst %.1f ms\n", r->name,
                  r->note, r->hwm_kb - r->rss_before_kb, r->canary_done, r->canary_lost,
                  (double)r->canary_worst_us / 1000);
    assert_true(r->survived);
    assert_true(r->canary_done > 0);
    assert_int_equal(r->canary_lost, 0); /* no QoS 1 round trip lost or stalled past 60 s */
}

static void assert_growth_under(const struct attack_result *r, long budget_kb)
{
    if (starling_sanitized()) return;
    assert_true(r->rss_before_kb > 0 && r->hwm_kb > 0);
    assert_in_range(r->hwm_kb - r->rss_before_kb, 0, budget_kb + SLACK_KB);
}

/* Finding 1: 20 pipelined SUBSCRIBEs of 1,000 filters are all answered
 * while other clients keep being served. */
ITEST(attack1_subscribe_pipeline_answered_others_served)
{
    struct attack_result r;
    run(t, 1, &attack_small, &r);
    assert_true(r.completed);
    assert_int_equal(r.granted + r.refused, 20000);
}

/* Finding 2: one connection pipelining small packets as fast as it can
 * gets every PINGRESP, and the canary is served meanwhile. */
ITEST(attack2_flood_one_connection_others_served)
{
    struct attack_result r;
    run(t, 2, &attack_small, &r);
    assert_true(r.completed);
}

/* Finding 3: QoS 0 to 200 subscribers that never read stays within
 * max_pending_bytes_total (8 MiB here) although 200 x the per-client bound
 * would be 1.6 GB. */
ITEST(attack3_fanout_to_non_readers_within_total_budget)
{
    restart_with(t, "\"max_pending_bytes_total\":8388608");
    struct attack_result r;
    run(t, 3, &attack_small, &r);
    assert_true(r.completed);
    assert_growth_under(&r, 8 * 1024);
}

/* Finding 4: 3 clients each asking for 2,000 retained messages 500 times
 * in one SUBSCRIBE and never reading stay within the output budget. */
ITEST(attack4_retained_replay_within_total_budget)
{
    restart_with(t, "\"max_pending_bytes_total\":8388608");
    struct attack_result r;
    run(t, 4, &attack_small, &r);
    assert_true(r.completed);
    assert_growth_under(&r, 8 * 1024);
}

/* Finding 5: topics and filters of 30,000 levels are refused under the
 * default max_topic_levels, so they cost the broker nothing lasting. */
ITEST(attack5_deep_topics_refused)
{
    struct attack_result r;
    run(t, 5, &attack_small, &r);
    assert_int_equal(r.granted, 0); /* refused with 0x80 or by disconnecting */
    assert_growth_under(&r, 0);
}

/* Finding 6: 4,096 levels colliding under the old unkeyed FNV-1a are all
 * stored and replayed to a c/# subscriber. */
ITEST(attack6_fnv_colliding_levels_all_retained)
{
    struct attack_result r;
    run(t, 6, &attack_small, &r);
    assert_true(r.completed);
    assert_int_equal(r.received, 4096);
}

/* Finding 7: 40 connections streaming 1 MiB each of an announced 16 MiB
 * CONNECT hold at most max_unauthenticated_bytes (4 MiB here). */
ITEST(attack7_preconnect_input_within_budget)
{
    restart_with(t, "\"max_unauthenticated_bytes\":4194304");
    struct attack_result r;
    run(t, 7, &attack_small, &r);
    assert_growth_under(&r, 4 * 1024);
}

/* Finding 8: 2,000 clean=0 sessions left behind expire after
 * session_expiry (1 s here): the first id reconnecting later finds no
 * session (CONNACK session present 0, MQTT-3.2.2-2). */
ITEST(attack8_persistent_sessions_expire)
{
    restart_with(t, "\"session_expiry\":1");
    struct attack_result r;
    run(t, 8, &attack_small, &r);
    assert_true(r.completed);
    sleep_ms(3000);
    struct conn_opts o = {.client_id = "stress-session-000000", .clean = false, .keepalive = 60};
    bool present = true;
    it_connect(t, &o, &present);
    assert_false(present);
}

/* Finding 9: past max_subscriptions_per_client (1,000 here) a filter gets
 * SUBACK 0x80; the first 1,000 are granted. */
ITEST(attack9_subscriptions_per_client_limited)
{
    restart_with(t, "\"max_subscriptions_per_client\":1000");
    struct attack_result r;
    run(t, 9, &attack_small, &r);
    assert_true(r.completed);
    assert_int_equal(r.granted, 1000);
    assert_int_equal(r.refused, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(attack1_subscribe_pipeline_answered_others_served),
        IT(attack2_flood_one_connection_others_served),
        IT(attack3_fanout_to_non_readers_within_total_budget),
        IT(attack4_retained_replay_within_total_budget),
        IT(attack5_deep_topics_refused),
        IT(attack6_fnv_colliding_levels_all_retained),
        IT(attack7_preconnect_input_within_budget),
        IT(attack8_persistent_sessions_expire),
        IT(attack9_subscriptions_per_client_limited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
