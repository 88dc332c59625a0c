#include "broker/timer.h"

#include <stddef.h>

void timer_wheel_init(struct timer_wheel *w, uint64_t now_ms)
{
    for (size_t i = 0; i < TIMER_SLOTS; i++) {
        w->slots[i].next = &w->slots[i];
        w->slots[i].prev = &w->slots[i];
    }
    w->tick = now_ms / TIMER_TICK_MS;
    w->count = 0;
    w->hint = w->tick;
}

void timer_cancel(struct timer_wheel *w, struct timer_node *n)
{
    if (!n->next) return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = NULL;
    w->count--;
}

void timer_schedule(struct timer_wheel *w, struct timer_node *n, uint64_t expires_ms)
{
    timer_cancel(w, n);
    n->expires_ms = expires_ms;
    /* Round up so a node never fires before its deadline. */
    uint64_t tick = (expires_ms + TIMER_TICK_MS - 1) / TIMER_TICK_MS;
    if (tick < w->tick) tick = w->tick;
    if (tick >= w->tick + TIMER_SLOTS) tick = w->tick + TIMER_SLOTS - 1;
    if (tick < w->hint) w->hint = tick;
    struct timer_node *head = &w->slots[tick % TIMER_SLOTS];
    n->next = head;
    n->prev = head->prev;
    head->prev->next = n;
    head->prev = n;
    w->count++;
}

/* Fire one slot's nodes. Detached first because callbacks may schedule
 * into this same slot: those (due now) are picked up by the caller's loop. */
static void fire_slot(struct timer_wheel *w, struct timer_node *head, uint64_t now_ms, timer_fn fn,
                      void *ctx)
{
    struct timer_node pending = {.prev = head->prev, .next = head->next, .expires_ms = 0};
    pending.next->prev = &pending;
    pending.prev->next = &pending;
    head->next = head->prev = head;
    while (pending.next != &pending) {
        struct timer_node *n = pending.next;
        n->prev->next = n->next;
        n->next->prev = n->prev;
        n->next = n->prev = NULL;
        w->count--;
        if (n->expires_ms > now_ms)
            timer_schedule(w, n, n->expires_ms); /* parked past the horizon */
        else
            fn(ctx, n);
    }
}

void timer_advance(struct timer_wheel *w, uint64_t now_ms, timer_fn fn, void *ctx)
{
    uint64_t now_tick = now_ms / TIMER_TICK_MS;
    /* After a long stall, one lap of the wheel visits every slot. */
    if (now_tick >= w->tick + TIMER_SLOTS) w->tick = now_tick - TIMER_SLOTS + 1;
    for (; w->tick <= now_tick; w->tick++) {
        struct timer_node *head = &w->slots[w->tick % TIMER_SLOTS];
        while (head->next != head)
            fire_slot(w, head, now_ms, fn, ctx);
    }
}

int timer_next_ms(struct timer_wheel *w, uint64_t now_ms)
{
    if (w->count == 0) return -1;
    uint64_t tick = w->hint > w->tick ? w->hint : w->tick;
    for (uint64_t end = w->tick + TIMER_SLOTS; tick < end; tick++) {
        const struct timer_node *head = &w->slots[tick % TIMER_SLOTS];
        if (head->next != head) break;
    }
    w->hint = tick;
    uint64_t at = tick * TIMER_TICK_MS;
    return at > now_ms ? (int)(at - now_ms) : 0;
}
