/* Timer wheel for per-connection deadlines (keep-alive, CONNECT timeout).
 * O(1) schedule and cancel with intrusive nodes; 100 ms resolution. Deadlines
 * past the wheel's horizon are parked in the last slot and re-checked, so any
 * deadline works. Callers that move a deadline often (keep-alive on every
 * packet) just record the new time and let the expiry callback reschedule:
 * the wheel is touched once per deadline, not once per packet. */
#ifndef STARLING_BROKER_TIMER_H
#define STARLING_BROKER_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIMER_TICK_MS 100
#define TIMER_SLOTS 1024

struct timer_node {
    struct timer_node *prev, *next; /* NULL when not scheduled */
    uint64_t expires_ms;
};

struct timer_wheel {
    struct timer_node slots[TIMER_SLOTS]; /* list heads */
    uint64_t tick;                        /* next tick to process */
    uint64_t count;
    /* No slot before this tick holds a node: timer_next_ms starts its scan
     * here instead of rescanning empty slots on every loop turn. */
    uint64_t hint;
};

void timer_wheel_init(struct timer_wheel *w, uint64_t now_ms);

/* (Re)schedule node to fire at expires_ms (at the first tick at or after it). */
void timer_schedule(struct timer_wheel *w, struct timer_node *n, uint64_t expires_ms);
void timer_cancel(struct timer_wheel *w, struct timer_node *n);

static inline bool timer_scheduled(const struct timer_node *n)
{
    return n->next != NULL;
}

/* Fire every node whose deadline, rounded up to the next 100 ms tick, is
 * <= now_ms, unscheduling it before calling fn (which may reschedule it, also
 * for a time already past: it then fires in this same call, or free it). */
typedef void (*timer_fn)(void *ctx, struct timer_node *n);
void timer_advance(struct timer_wheel *w, uint64_t now_ms, timer_fn fn, void *ctx);

/* Milliseconds until the next tick that has work, or -1 if none is scheduled. */
int timer_next_ms(struct timer_wheel *w, uint64_t now_ms);

#endif
