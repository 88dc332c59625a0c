/* Timer wheel: nodes never fire early, fire within one tick of their deadline,
 * exactly once, including deadlines past the wheel's horizon, long stalls of
 * the event loop, and callbacks that move or cancel nodes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "broker/timer.h"

#define HORIZON_MS ((uint64_t)TIMER_SLOTS * TIMER_TICK_MS)

struct item {
    struct timer_node node; /* first member: the callback casts back */
    uint64_t deadline;
    int fired;
    uint64_t fired_at;
    /* optional behaviour in the callback */
    int repeat;            /* reschedule self this many more times */
    uint64_t repeat_delay; /* ... at now + repeat_delay */
    struct item *move;     /* reschedule this other node ... */
    uint64_t move_to;      /* ... to this deadline */
    struct item *cancel;   /* cancel this other node */
};

struct clock {
    uint64_t now;
};

static void on_fire(void *ctx, struct timer_node *n)
{
    struct clock *clk = ctx;
    struct item *it = (struct item *)n;
    assert_false(timer_scheduled(n)); /* unscheduled before the callback */
    it->fired++;
    it->fired_at = clk->now;
}

/* Callbacks that touch the wheel need it: ctx is this. */
struct wctx {
    struct clock clk;
    struct timer_wheel *w;
};

static void on_fire_act(void *ctx, struct timer_node *n)
{
    struct wctx *c = ctx;
    struct item *it = (struct item *)n;
    on_fire(&c->clk, n);
    if (it->repeat > 0) {
        it->repeat--;
        it->deadline = c->clk.now + it->repeat_delay;
        timer_schedule(c->w, n, it->deadline);
    }
    if (it->move && timer_scheduled(&it->move->node)) {
        it->move->deadline = it->move_to;
        timer_schedule(c->w, &it->move->node, it->move_to);
    }
    if (it->cancel) timer_cancel(c->w, &it->cancel->node);
}

static void sched(struct timer_wheel *w, struct item *it, uint64_t deadline)
{
    it->deadline = deadline;
    timer_schedule(w, &it->node, deadline);
}

static uint64_t ceil_tick_ms(uint64_t ms)
{
    return (ms + TIMER_TICK_MS - 1) / TIMER_TICK_MS * TIMER_TICK_MS;
}

static void check_deadline(uint64_t start, uint64_t deadline, uint64_t step)
{
    struct timer_wheel wheel, *w = &wheel;
    timer_wheel_init(w, start);
    struct item it = {0};
    sched(w, &it, deadline);
    assert_true(timer_scheduled(&it.node));
    struct clock clk = {start};
    uint64_t limit = deadline + step + TIMER_TICK_MS;
    while (!it.fired && clk.now <= limit) {
        clk.now += step;
        timer_advance(w, clk.now, on_fire, &clk);
    }
    assert_int_equal(it.fired, 1);
    assert_true(it.fired_at >= deadline);
    /* Fired by the first advance that reached the tick boundary at/after the
     * deadline, not a later one. */
    assert_true(it.fired_at >= ceil_tick_ms(deadline));
    if (it.fired_at > start + step) assert_true(it.fired_at - step < ceil_tick_ms(deadline));
    assert_false(timer_scheduled(&it.node));
    /* exactly once */
    for (int i = 0; i < 2 * TIMER_SLOTS; i++) {
        clk.now += TIMER_TICK_MS;
        timer_advance(w, clk.now, on_fire, &clk);
    }
    assert_int_equal(it.fired, 1);
    assert_int_equal(timer_next_ms(w, clk.now), -1);
}

static void test_never_early_fires_within_one_tick(void **state)
{
    (void)state;
    static const uint64_t d[] = {0, 1, 99, 100, 101, 150, 199, 200, 999, 1000, 12345, 99999};
    for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
        check_deadline(0, d[i], 1);
        check_deadline(0, d[i], 37);
        /* a clock that does not start at zero or on a tick boundary */
        check_deadline(1700000000123ull, 1700000000123ull + d[i], 1);
        check_deadline(1700000000123ull, 1700000000123ull + d[i], TIMER_TICK_MS);
    }
}

static void test_deadline_in_the_past_fires_on_next_advance(void **state)
{
    (void)state;
    struct timer_wheel wheel, *w = &wheel;
    timer_wheel_init(w, 5000);
    struct clock clk = {5000};
    struct item it = {0};
    sched(w, &it, 1000);
    timer_advance(w, 5000, on_fire, &clk);
    clk.now = 5100;
    timer_advance(w, 5100, on_fire, &clk);
    assert_int_equal(it.fired, 1);
}

static void test_cancel(void **state)
{
    (void)state;
    struct timer_wheel wheel, *w = &wheel;
    timer_wheel_init(w, 0);
    struct clock clk = {0};
    struct item a = {0}, b = {0};
    sched(w, &a, 500);
    sched(w, &b, 500);
    timer_cancel(w, &a.node);
    assert_false(timer_scheduled(&a.node));
    timer_cancel(w, &a.node); /* cancelling an unscheduled node is harmless */
    for (clk.now = 0; clk.now <= 5000; clk.now += TIMER_TICK_MS)
        timer_advance(w, clk.now, on_fire, &clk);
    assert_int_equal(a.fired, 0);
    assert_int_equal(b.fired, 1);
    assert_int_equal(timer_next_ms(w, clk.now), -1);
}

static void test_reschedule_moves_node(void **state)
{
    (void)state;
    struct timer_wheel wheel, *w = &wheel;
    timer_wheel_init(w, 0);
    struct clock clk = {0};
    struct item later = {0}, earlier = {0};
    sched(w, &later, 500);
    sched(w, &later, 2000); /* moved later */
    sched(w, &earlier, 3000);
    sched(w, &earlier, 300); /* moved earlier */
    for (clk.now = 0; clk.now <= 5000; clk.now += 10)
        timer_advance(w, clk.now, on_fire, &clk);
    assert_int_equal(later.fired, 1);
    assert_int_equal(later.fired_at, 2000);
    assert_int_equal(earlier.fired, 1);
    assert_int_equal(earlier.fired_at, 300);
}

static void test_beyond_horizon(void **state)
{
    (void)state;
    const uint64_t ten_min = 10 * 60 * 1000;
    static const uint64_t steps[] = {TIMER_TICK_MS, 1000, 7001};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        check_deadline(0, ten_min, steps[i]);
        check_deadline(0, ten_min + 50, steps[i]);
        check_deadline(0, HORIZON_MS - TIMER_TICK_MS, steps[i]);
        check_deadline(0, HORIZON_MS, steps[i]);
        check_deadline(0, HORIZON_MS + 1, steps[i]);
        check_deadline(123456, 123456 + 3 * HORIZON_MS + 77, steps[i]);
    }
}

/* Many nodes in one slot, some due in this lap of the wheel and some in
 * later laps (same slot index, deadlines one horizon apart). */
static void test_many_nodes_one_slot(void **state)
{
    (void)state;
    enum { N = 3000 };
    struct timer_wheel wheel, *w = &wheel;
    timer_wheel_init(w, 0);
    struct item *it = calloc(N, sizeof(*it));
    assert_non_null(it);
    for (int i = 0; i < N; i++) {
        uint64_t lap = (uint64_t)(i % 3);
        sched(w, &it[i], 901 + (uint64_t)(i % 100) + lap * HORIZON_MS);
    }
    struct clock clk = {0};
    for (clk.now = 0; clk.now <= 3 * HORIZON_MS; clk.now += TIMER_TICK_MS) {
        timer_advance(w, clk.now, on_fire, &clk);
        if (clk.now == 1000) {
            for (int i = 0; i < N; i++)
                assert_int_equal(it[i].fired, i % 3 == 0);
        }
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(it[i].fired, 1);
        assert_true(it[i].fired_at >= it[i].deadline);
        assert_true(it[i].fired_at < it[i].deadline + TIMER_TICK_MS);
    }
    free(it);
}

static void test_callback_reschedules_itself(void **state)
{
    (void)state;
    struct timer_wheel wheel;
    timer_wheel_init(&wheel, 0);
    struct wctx c = {{0}, &wheel};
    struct item it = {.repeat = 4, .repeat_delay = 250};
    sched(c.w, &it, 250);
    uint64_t last = 0;
    int seen = 0;
    for (c.clk.now = 0; c.clk.now <= 10000; c.clk.now += 10) {
        timer_advance(c.w, c.clk.now, on_fire_act, &c);
        if (it.fired != seen) {
            assert_int_equal(it.fired, seen + 1); /* once per advance */
            assert_true(it.fired_at >= last + 250);
            last = it.fired_at;
            seen = it.fired;
        }
    }
    assert_int_equal(it.fired, 5);
    assert_false(timer_scheduled(&it.node));
}

/* A callback may re-arm a node for a deadline that has already come (e.g.
 * "retry now"): the wheel must fire it at the next advance, not a whole lap
 * (TIMER_SLOTS ticks) later. */
static void test_callback_reschedule_due_fires_next_advance(void **state)
{
    (void)state;
    struct timer_wheel wheel;
    timer_wheel_init(&wheel, 0);
    struct wctx c = {{0}, &wheel};
    struct item it = {.repeat = 1, .repeat_delay = 0};
    sched(c.w, &it, 1000);
    for (c.clk.now = 0; c.clk.now <= 1000 + TIMER_TICK_MS; c.clk.now += TIMER_TICK_MS)
        timer_advance(c.w, c.clk.now, on_fire_act, &c);
    assert_int_equal(it.fired, 2);
}

static void test_callback_moves_and_cancels_others(void **state)
{
    (void)state;
    struct timer_wheel wheel;
    timer_wheel_init(&wheel, 0);
    struct wctx c = {{0}, &wheel};
    /* Different slots: a's callback pushes b back and cancels d. */
    struct item a = {0}, b = {0}, d = {0};
    a.move = &b;
    a.move_to = 5000;
    a.cancel = &d;
    sched(c.w, &a, 1000);
    sched(c.w, &b, 1500);
    sched(c.w, &d, 1500);
    /* Same slot: whichever of p, q fires first pushes the other back. */
    struct item p = {0}, q = {0};
    p.move = &q;
    p.move_to = 4000;
    q.move = &p;
    q.move_to = 4000;
    sched(c.w, &p, 3000);
    sched(c.w, &q, 3000);
    for (c.clk.now = 0; c.clk.now <= 8000; c.clk.now += TIMER_TICK_MS) {
        timer_advance(c.w, c.clk.now, on_fire_act, &c);
        if (c.clk.now == 3000) assert_int_equal(p.fired + q.fired, 1);
    }
    assert_int_equal(a.fired, 1);
    assert_int_equal(b.fired, 1);
    assert_int_equal(b.fired_at, 5000);
    assert_int_equal(d.fired, 0);
    assert_int_equal(p.fired, 1);
    assert_int_equal(q.fired, 1);
    assert_int_equal(p.fired_at + q.fired_at, 3000 + 4000);
}

static void test_next_ms_empty_and_bounds(void **state)
{
    (void)state;
    struct timer_wheel wheel, *w = &wheel;
    timer_wheel_init(w, 1000);
    struct clock clk = {1000};
    assert_int_equal(timer_next_ms(w, 1000), -1);
    struct item a = {0}, b = {0};
    sched(w, &a, 1000 + 750);
    sched(w, &b, 1000 + 5000);
    /* Never sleep past the earliest deadline (rounded to its tick). */
    int t = timer_next_ms(w, 1000);
    assert_true(t >= 0);
    assert_true(t <= 800);
    timer_cancel(w, &a.node);
    t = timer_next_ms(w, 1000);
    assert_true(t >= 0 && t <= 5000);
    /* Once the deadline has passed, no waiting at all. */
    assert_int_equal(timer_next_ms(w, 1000 + 6000), 0);
    timer_cancel(w, &b.node);
    assert_int_equal(timer_next_ms(w, 1000), -1);
    /* Empty again after everything fired. */
    sched(w, &a, 1200);
    clk.now = 1200;
    timer_advance(w, 1200, on_fire, &clk);
    assert_int_equal(a.fired, 1);
    assert_int_equal(timer_next_ms(w, 1200), -1);
}

/* The header promises the time until the next tick *that has work*: an idle
 * loop with one far deadline should not wake every tick. */
static void test_next_ms_skips_empty_ticks(void **state)
{
    (void)state;
    struct timer_wheel wheel, *w = &wheel;
    timer_wheel_init(w, 1000);
    struct item a = {0};
    sched(w, &a, 1000 + 5000);
    int t = timer_next_ms(w, 1000);
    assert_true(t >= 5000 - TIMER_TICK_MS);
    assert_true(t <= 5000);
}

/* The loop stalls for an hour: one advance fires everything due, exactly
 * once, and nothing that is not yet due. */
static void test_long_stall(void **state)
{
    (void)state;
    enum { N = 4000 };
    const uint64_t hour = 3600 * 1000;
    struct timer_wheel wheel, *w = &wheel;
    timer_wheel_init(w, 0);
    struct item *it = calloc(N, sizeof(*it));
    assert_non_null(it);
    /* deadlines spread over two hours, some sharing slots across laps */
    for (int i = 0; i < N; i++)
        sched(w, &it[i], 1 + (uint64_t)i * (2 * hour / N) + (uint64_t)(i % 7) * 13);
    struct clock clk = {hour};
    timer_advance(w, hour, on_fire, &clk);
    int due = 0;
    for (int i = 0; i < N; i++) {
        bool is_due = it[i].deadline <= hour;
        /* due ones: fired (deadline on a tick boundary at/under the hour) */
        if (ceil_tick_ms(it[i].deadline) <= hour) assert_int_equal(it[i].fired, 1);
        if (!is_due) assert_int_equal(it[i].fired, 0);
        due += it[i].fired;
    }
    assert_true(due > N / 2 - 2);
    assert_true(timer_next_ms(w, hour) >= 0);
    /* A second stall fires the rest, again exactly once. */
    clk.now = 3 * hour;
    timer_advance(w, clk.now, on_fire, &clk);
    for (int i = 0; i < N; i++) {
        assert_int_equal(it[i].fired, 1);
        assert_true(it[i].fired_at >= it[i].deadline);
    }
    assert_int_equal(timer_next_ms(w, clk.now), -1);
    free(it);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_never_early_fires_within_one_tick),
        cmocka_unit_test(test_deadline_in_the_past_fires_on_next_advance),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_reschedule_moves_node),
        cmocka_unit_test(test_beyond_horizon),
        cmocka_unit_test(test_many_nodes_one_slot),
        cmocka_unit_test(test_callback_reschedules_itself),
        cmocka_unit_test(test_callback_reschedule_due_fires_next_advance),
        cmocka_unit_test(test_callback_moves_and_cancels_others),
        cmocka_unit_test(test_next_ms_empty_and_bounds),
        cmocka_unit_test(test_next_ms_skips_empty_ticks),
        cmocka_unit_test(test_long_stall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
